package com.example.cache;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Least-recently-used cache on top of LinkedHashMap's access order.
 * Not thread-safe: wrap with Collections.synchronizedMap or guard externally.
 */
public class LruCache<K, V> extends LinkedHashMap<K, V> {
    private static final long serialVersionUID = 1L;
    private final int maxEntries;

    public LruCache(int maxEntries) {
        super(16, 0.75f, true);
        if (maxEntries < 1) {
            throw new IllegalArgumentException("maxEntries must be at least 1");
        }
        this.maxEntries = maxEntries;
    }

    @Override
    protected boolean removeEldestEntry(Map.Entry<K, V> eldest) {
        return size() > maxEntries;
    }

    public int capacity() {
        return maxEntries;
    }
}
