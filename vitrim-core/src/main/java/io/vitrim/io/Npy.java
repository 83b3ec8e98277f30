package io.vitrim.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** NumPy's {@code .npy} format (version 1.0) for one little-endian float32 matrix, written atomically. */
public final class Npy {
    private Npy() {}

    /** Writes {@code data} as an array of shape {@code [rows, cols]}. */
    public static void write(Path target, float[] data, int rows, int cols) throws IOException {
        if ((long) rows * cols != data.length) throw new IllegalArgumentException("shape does not match the data");
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + rows + ", " + cols + "), }";
        // magic (6) + version (2) + header length (2) + header, padded with spaces to 64 bytes, ending in \n
        int len = 10 + dict.length() + 1;
        int pad = (64 - len % 64) % 64;
        StringBuilder h = new StringBuilder(dict);
        for (int i = 0; i < pad; i++) h.append(' ');
        h.append('\n');
        byte[] hb = h.toString().getBytes(StandardCharsets.US_ASCII);
        ByteBuffer buf = ByteBuffer.allocate(10 + hb.length + 4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        buf.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
        buf.putShort((short) hb.length).put(hb);
        buf.asFloatBuffer().put(data);
        AtomicFiles.write(target, buf.array());
    }
}
