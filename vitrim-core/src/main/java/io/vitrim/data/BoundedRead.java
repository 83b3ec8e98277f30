package io.vitrim.data;

import io.vitrim.VitrimException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads one image file or zip entry into memory, refusing more than a byte budget: a zip entry
 * may claim any size and inflate to far more than it claims (a zip bomb), so the limit is
 * enforced on the bytes actually read, not on the header.
 */
public final class BoundedRead {
    private BoundedRead() {}

    /** Default largest image file or zip entry, in bytes. */
    public static final long MAX_ENTRY_BYTES = 256L << 20;

    /** The budget: {@code -Dvitrim.maxEntryBytes=N} raises or lowers {@link #MAX_ENTRY_BYTES}. */
    public static long maxBytes() {
        return Long.getLong("vitrim.maxEntryBytes", MAX_ENTRY_BYTES);
    }

    private static VitrimException tooBig(Object where, String size) {
        return VitrimException.of(where, size + " bytes, more than an image may take (" + maxBytes()
                + "; raise it with -Dvitrim.maxEntryBytes=N)");
    }

    /** Reads {@code in} to the end; {@code declared} is the size the archive claims (−1 unknown). */
    public static byte[] read(InputStream in, long declared, Object where) throws IOException {
        long max = maxBytes();
        if (declared > max) throw tooBig(where, "declares " + declared);
        ByteArrayOutputStream out = new ByteArrayOutputStream((int) Math.max(8192, Math.min(declared, 1 << 20))); // a claim is not trusted
        byte[] buf = new byte[8192];
        long total = 0;
        for (int n; (n = in.read(buf)) > 0; ) {
            total += n;
            if (total > max) throw tooBig(where, "inflates past " + max);
            out.write(buf, 0, n);
        }
        return out.toByteArray();
    }

    /** Reads a file, refusing one larger than the budget. */
    public static byte[] read(Path f) {
        try {
            long size = Files.size(f);
            if (size > maxBytes()) throw tooBig(f, String.valueOf(size));
            return Files.readAllBytes(f);
        } catch (IOException e) {
            throw VitrimException.of(f, "cannot read: " + e.getMessage());
        }
    }
}
