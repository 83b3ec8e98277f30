package io.vitrim.cli;

import io.vitrim.VitrimException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Expands image files, folders (recursively) and zips into named images, in a stable order.
 * Zips stay open until {@link #close()}.
 */
final class Inputs implements AutoCloseable {
    private final List<ZipFile> open = new ArrayList<>();
    final List<Item> items = new ArrayList<>();

    private Inputs() {}

    @Override
    public void close() {
        for (ZipFile z : open) {
            try {
                z.close();
            } catch (IOException ignored) {
                // closing a read-only zip
            }
        }
    }

    static final Set<String> EXTENSIONS = Set.of("jpg", "jpeg", "png", "webp", "bmp", "gif");

    /** One image to read: a display name and how to get its bytes. */
    interface Item {
        String name();

        byte[] bytes();
    }

    static boolean isImageName(String name) {
        int dot = name.lastIndexOf('.');
        return dot >= 0 && EXTENSIONS.contains(name.substring(dot + 1).toLowerCase(Locale.ROOT));
    }

    static Inputs collect(List<Path> paths) {
        Inputs in = new Inputs();
        try {
            in.add(paths);
        } catch (RuntimeException e) {
            in.close();
            throw e;
        }
        return in;
    }

    private void add(List<Path> paths) {
        List<Item> out = items;
        for (Path p : paths) {
            if (!Files.exists(p)) throw VitrimException.of(p, "no such file or folder");
            if (Files.isDirectory(p)) {
                List<Path> files;
                try (Stream<Path> s = Files.walk(p)) {
                    files = s.filter(Files::isRegularFile).filter(f -> isImageName(f.getFileName().toString())).sorted().toList();
                } catch (IOException | java.io.UncheckedIOException e) {
                    throw VitrimException.of(p, "cannot list folder: " + e.getMessage());
                }
                if (files.isEmpty()) throw VitrimException.of(p, "no images found (" + String.join(", ", EXTENSIONS) + ")");
                for (Path f : files) out.add(file(f));
            } else if (p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".zip")) {
                out.addAll(zip(p));
            } else {
                out.add(file(p));
            }
        }
    }

    private static Item file(Path f) {
        return new Item() {
            @Override
            public String name() {
                return f.toString();
            }

            @Override
            public byte[] bytes() {
                return io.vitrim.data.BoundedRead.read(f);
            }
        };
    }

    private List<Item> zip(Path z) {
        ZipFile zf;
        try {
            zf = new ZipFile(z.toFile());
        } catch (IOException e) {
            throw VitrimException.of(z, "not a readable zip: " + e.getMessage());
        }
        open.add(zf);
        List<ZipEntry> entries = new ArrayList<>();
        Enumeration<? extends ZipEntry> en = zf.entries();
        while (en.hasMoreElements()) {
            ZipEntry e = en.nextElement();
            if (!e.isDirectory() && isImageName(e.getName())) entries.add(e);
        }
        if (entries.isEmpty()) throw VitrimException.of(z, "no images found in zip (" + String.join(", ", EXTENSIONS) + ")");
        entries.sort((a, b) -> a.getName().compareTo(b.getName()));
        List<Item> out = new ArrayList<>();
        for (ZipEntry e : entries) {
            out.add(new Item() {
                @Override
                public String name() {
                    return z + "!" + e.getName();
                }

                @Override
                public byte[] bytes() {
                    synchronized (zf) {
                        try (InputStream in = zf.getInputStream(e)) {
                            return io.vitrim.data.BoundedRead.read(in, e.getSize(), z + "!" + e.getName());
                        } catch (IOException ex) {
                            throw VitrimException.of(z + "!" + e.getName(), "cannot read: " + ex.getMessage());
                        }
                    }
                }
            });
        }
        return out;
    }
}
