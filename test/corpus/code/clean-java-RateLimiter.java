package com.example.limits;

import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Token-bucket rate limiter: {@code capacity} tokens, refilled at {@code ratePerSecond}.
 * Thread-safe; the clock is injectable for tests.
 */
public final class RateLimiter {
    private final long capacity;
    private final double ratePerNano;
    private final LongSupplier nanoClock;
    private double tokens;
    private long lastRefill;

    public RateLimiter(long capacity, double ratePerSecond, LongSupplier nanoClock) {
        if (capacity <= 0 || ratePerSecond <= 0) {
            throw new IllegalArgumentException("capacity and rate must be positive");
        }
        this.capacity = capacity;
        this.ratePerNano = ratePerSecond / TimeUnit.SECONDS.toNanos(1);
        this.nanoClock = nanoClock;
        this.tokens = capacity;
        this.lastRefill = nanoClock.getAsLong();
    }

    public RateLimiter(long capacity, double ratePerSecond) {
        this(capacity, ratePerSecond, System::nanoTime);
    }

    private void refill() {
        long now = nanoClock.getAsLong();
        tokens = Math.min(capacity, tokens + (now - lastRefill) * ratePerNano);
        lastRefill = now;
    }

    /** Takes one token if available. */
    public synchronized boolean tryAcquire() {
        refill();
        if (tokens >= 1) {
            tokens -= 1;
            return true;
        }
        return false;
    }

    public synchronized double available() {
        refill();
        return tokens;
    }
}
