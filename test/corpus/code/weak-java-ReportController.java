package com.example.reports;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;

/** Returns order summaries for the account managers' report page. */
public class ReportController {
    private final DataSource dataSource;

    public ReportController(DataSource dataSource) {
        this.dataSource = dataSource;
    }

    public List<String> ordersForCustomer(String customerName, String status) throws SQLException {
        String sql = "SELECT id, total FROM orders WHERE customer_name = '" + customerName
                + "' AND status = '" + status + "' ORDER BY created DESC";
        List<String> out = new ArrayList<>();
        try (Connection c = dataSource.getConnection();
             Statement st = c.createStatement();
             ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                out.add(rs.getLong("id") + ": " + rs.getBigDecimal("total"));
            }
        }
        return out;
    }
}
