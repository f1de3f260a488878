package com.example.orders;

import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;

/** Reads and updates orders with prepared statements only. */
public class OrderService {
    private final DataSource dataSource;

    public OrderService(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    public List<Order> openOrders(long customerId) throws SQLException {
        String sql = "SELECT id, total, status FROM orders WHERE customer_id = ? AND status = ? ORDER BY created DESC";
        List<Order> out = new ArrayList<>();
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setLong(1, customerId);
            ps.setString(2, "OPEN");
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(new Order(rs.getLong("id"), rs.getBigDecimal("total"), rs.getString("status")));
                }
            }
        }
        return out;
    }

    public boolean cancel(long orderId, long customerId) throws SQLException {
        String sql = "UPDATE orders SET status = 'CANCELLED' WHERE id = ? AND customer_id = ? AND status = 'OPEN'";
        try (Connection c = dataSource.getConnection(); PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setLong(1, orderId);
            ps.setLong(2, customerId);
            return ps.executeUpdate() == 1;
        }
    }

    public record Order(long id, BigDecimal total, String status) {}
}
