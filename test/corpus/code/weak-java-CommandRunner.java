package com.example.ops;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.util.ArrayList;
import java.util.List;

/** Runs the disk-usage report for a directory chosen in the ops console. */
public class CommandRunner {

    public List<String> diskUsage(String directory) throws IOException, InterruptedException {
        Process p = Runtime.getRuntime().exec("du -sh " + directory);
        List<String> lines = new ArrayList<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
            String line;
            while ((line = r.readLine()) != null) {
                lines.add(line);
            }
        }
        int code = p.waitFor();
        if (code != 0) {
            throw new IOException("du exited with " + code);
        }
        return lines;
    }
}
