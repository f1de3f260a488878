package com.example.files;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Stores uploaded attachments under one root directory and never outside it. */
public class FileStore {
    private final Path root;

    public FileStore(Path root) throws IOException {
        this.root = root.toRealPath();
    }

    Path resolve(String name) {
        Path target = root.resolve(name).normalize();
        if (!target.startsWith(root) || target.equals(root)) {
            throw new IllegalArgumentException("invalid attachment name: " + name);
        }
        return target;
    }

    public void save(String name, InputStream content) throws IOException {
        Path target = resolve(name);
        Files.createDirectories(target.getParent());
        Files.copy(content, target, StandardCopyOption.REPLACE_EXISTING);
    }

    public InputStream open(String name) throws IOException {
        return Files.newInputStream(resolve(name));
    }

    public boolean delete(String name) throws IOException {
        return Files.deleteIfExists(resolve(name));
    }
}
