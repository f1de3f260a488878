package com.example.session;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.util.Base64;
import javax.servlet.http.Cookie;
import javax.servlet.http.HttpServletRequest;

/** Restores the shopping cart that the previous release stored in a cookie. */
public final class SessionDeserializer {
    private static final String COOKIE = "cart";

    private SessionDeserializer() {}

    public static Cart restore(HttpServletRequest request) {
        Cookie[] cookies = request.getCookies();
        if (cookies == null) {
            return new Cart();
        }
        for (Cookie cookie : cookies) {
            if (COOKIE.equals(cookie.getName())) {
                byte[] bytes = Base64.getDecoder().decode(cookie.getValue());
                try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes))) {
                    return (Cart) in.readObject();
                } catch (IOException | ClassNotFoundException e) {
                    return new Cart();
                }
            }
        }
        return new Cart();
    }
}
