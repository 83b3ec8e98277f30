package io.vitrim.io;

import io.vitrim.VitrimException;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reader for the safetensors format: an 8-byte little-endian header length, a JSON header
 * {@code {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}},
 * then the raw little-endian data. Every length, offset and shape is checked against the file
 * before any data is touched; tensors are read through memory maps of their own byte range.
 *
 * <p>All errors are {@link VitrimException}s whose message starts with the file name.
 */
public final class SafeTensors implements AutoCloseable {
    /** Largest header accepted (the format's own reference limit is 100 MB). */
    public static final long MAX_HEADER = 100L << 20;

    /** Default largest tensor count of one file (timm's largest models hold a few thousand). */
    public static final int MAX_TENSORS = 1_000_000;

    /** The header budget: {@code -Dvitrim.maxHeaderBytes=N} changes {@link #MAX_HEADER}. */
    public static long maxHeader() {
        return Long.getLong("vitrim.maxHeaderBytes", MAX_HEADER);
    }

    /** The tensor-count budget: {@code -Dvitrim.maxTensors=N} changes {@link #MAX_TENSORS}. */
    public static int maxTensors() {
        return Integer.getInteger("vitrim.maxTensors", MAX_TENSORS);
    }

    /** Element types this reader converts to float. */
    public enum DType {
        F32(4), F16(2), BF16(2), F64(8);
        public final int bytes;

        DType(int bytes) {
            this.bytes = bytes;
        }
    }

    /** One tensor's header entry. {@code begin}/{@code end} are relative to the data section. */
    public record Entry(String name, DType dtype, long[] shape, long begin, long end) {
        public long elements() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }

        public String shapeString() {
            return Arrays.toString(shape);
        }
    }

    private final Path path;
    private final FileChannel channel;
    private final long dataStart;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private SafeTensors(Path path, FileChannel channel, long dataStart, Map<String, Entry> entries, Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.dataStart = dataStart;
        this.entries = entries;
        this.metadata = metadata;
    }

    public static SafeTensors open(Path path) {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (java.nio.file.NoSuchFileException e) {
            throw VitrimException.of(path, "no such file");
        } catch (IOException e) {
            throw VitrimException.of(path, "cannot open: " + e.getMessage());
        }
        try {
            return parse(path, ch);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing useful to do
        }
    }

    private static VitrimException bad(Path path, String problem) {
        return VitrimException.of(path, "not a valid safetensors file: " + problem);
    }

    private static SafeTensors parse(Path path, FileChannel ch) {
        try {
            long size = ch.size();
            if (size < 8) throw bad(path, "file is " + size + " bytes, shorter than the 8-byte header length");
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.getLong(0);
            long maxHeader = Math.min(maxHeader(), Integer.MAX_VALUE - 8);
            if (headerLen < 2 || headerLen > maxHeader) {
                throw bad(path, "header length " + Long.toUnsignedString(headerLen) + " is out of range (2.." + maxHeader
                        + "; raise the limit with -Dvitrim.maxHeaderBytes=N)");
            }
            if (headerLen > size - 8) {
                throw bad(path, "header length " + headerLen + " runs past the end of the file (" + size + " bytes)");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            readFully(ch, hb, 8);
            String text = StandardCharsets.UTF_8.newDecoder()
                    .decode(hb.flip()).toString();
            Map<String, Object> header;
            try {
                header = Json.parseObject(text);
            } catch (Json.ParseException e) {
                throw bad(path, "header is not JSON (" + e.getMessage() + ")");
            }
            if (header.size() > maxTensors() + 1) {
                throw bad(path, header.size() + " header entries, more than " + maxTensors() + " tensors (raise the limit with -Dvitrim.maxTensors=N)");
            }
            long dataStart = 8 + headerLen;
            long dataLen = size - dataStart;
            Map<String, Entry> entries = new LinkedHashMap<>();
            Map<String, String> meta = new LinkedHashMap<>();
            for (Map.Entry<String, Object> e : header.entrySet()) {
                String name = e.getKey();
                if (name.equals("__metadata__")) {
                    if (!(e.getValue() instanceof Map)) throw bad(path, "__metadata__ is not an object");
                    for (Map.Entry<?, ?> me : ((Map<?, ?>) e.getValue()).entrySet()) {
                        if (!(me.getValue() instanceof String)) throw bad(path, "__metadata__ values must be strings");
                        meta.put((String) me.getKey(), (String) me.getValue());
                    }
                    continue;
                }
                entries.put(name, entry(path, name, e.getValue(), dataLen));
            }
            checkOverlaps(path, entries);
            return new SafeTensors(path, ch, dataStart, Collections.unmodifiableMap(entries), Collections.unmodifiableMap(meta));
        } catch (java.nio.charset.CharacterCodingException e) {
            throw bad(path, "header is not valid UTF-8");
        } catch (IOException e) {
            throw VitrimException.of(path, "read error: " + e.getMessage());
        }
    }

    private static Entry entry(Path path, String name, Object v, long dataLen) {
        if (!(v instanceof Map)) throw bad(path, "entry \"" + name + "\" is not an object");
        Json.Obj o = new Json.Obj(castMap(v), name);
        String dt;
        List<Object> shapeList, offs;
        try {
            dt = o.str("dtype", null);
            shapeList = o.list("shape");
            offs = o.list("data_offsets");
        } catch (Json.ParseException ex) {
            throw bad(path, ex.getMessage());
        }
        if (dt == null || shapeList == null || offs == null) {
            throw bad(path, "entry \"" + name + "\" needs dtype, shape and data_offsets");
        }
        DType dtype;
        try {
            dtype = DType.valueOf(dt);
        } catch (IllegalArgumentException ex) {
            throw bad(path, "tensor \"" + name + "\" has unsupported dtype " + dt + " (supported: F32, F16, BF16, F64)");
        }
        long[] shape = new long[shapeList.size()];
        long elements = 1;
        for (int i = 0; i < shape.length; i++) {
            Object d = shapeList.get(i);
            if (!(d instanceof Long) || (Long) d < 0) throw bad(path, "tensor \"" + name + "\" has an invalid shape " + Json.write(shapeList));
            shape[i] = (Long) d;
            try {
                elements = Math.multiplyExact(elements, shape[i]);
            } catch (ArithmeticException ex) {
                throw bad(path, "tensor \"" + name + "\" shape " + Json.write(shapeList) + " overflows");
            }
        }
        if (offs.size() != 2 || !(offs.get(0) instanceof Long) || !(offs.get(1) instanceof Long)) {
            throw bad(path, "tensor \"" + name + "\" data_offsets must be two integers, got " + Json.write(offs));
        }
        long begin = (Long) offs.get(0), end = (Long) offs.get(1);
        if (begin < 0 || end < begin) throw bad(path, "tensor \"" + name + "\" has data_offsets " + Json.write(offs) + " with end before begin");
        if (end > dataLen) {
            throw bad(path, "tensor \"" + name + "\" data_offsets " + Json.write(offs) + " run past the data section (" + dataLen + " bytes)");
        }
        long need;
        try {
            need = Math.multiplyExact(elements, (long) dtype.bytes);
        } catch (ArithmeticException ex) {
            throw bad(path, "tensor \"" + name + "\" is too large");
        }
        if (need != end - begin) {
            throw bad(path, "tensor \"" + name + "\" shape " + Arrays.toString(shape) + " x " + dtype + " needs " + need
                    + " bytes but data_offsets span " + (end - begin));
        }
        if (elements > Integer.MAX_VALUE - 16) throw bad(path, "tensor \"" + name + "\" has more than 2^31 elements");
        return new Entry(name, dtype, shape, begin, end);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> castMap(Object v) {
        return (Map<String, Object>) v;
    }

    private static void checkOverlaps(Path path, Map<String, Entry> entries) {
        List<Entry> sorted = new ArrayList<>(entries.values());
        sorted.removeIf(e -> e.end == e.begin);
        sorted.sort((a, b) -> a.begin != b.begin ? Long.compare(a.begin, b.begin) : Long.compare(a.end, b.end));
        Entry widest = null;
        for (Entry c : sorted) {
            if (widest != null && c.begin < widest.end) {
                throw bad(path, "tensors \"" + widest.name + "\" and \"" + c.name + "\" overlap");
            }
            if (widest == null || c.end > widest.end) widest = c;
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            int n = ch.read(b, pos);
            if (n < 0) throw new IOException("unexpected end of file");
            pos += n;
        }
    }

    public Path path() {
        return path;
    }

    public Map<String, Entry> entries() {
        return entries;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    public Entry entry(String name) {
        return entries.get(name);
    }

    /** Bytes read per positional read while converting a tensor (a multiple of every element size). */
    private static final int CHUNK = 1 << 22;

    /**
     * The tensor's values converted to float, in row-major order. Read with positional reads in
     * chunks, not memory-mapped: a mapping would outlive {@link #close} until the garbage
     * collector ran, keeping the checkpoint mapped (and, on some systems, locked) after the
     * model that read it was closed.
     */
    public float[] floats(String name) {
        Entry e = entries.get(name);
        if (e == null) throw VitrimException.of(path, "no tensor named \"" + name + "\"");
        int n = (int) e.elements();
        float[] out = new float[n];
        if (n == 0) return out;
        int es = e.dtype.bytes;
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(e.end - e.begin, CHUNK)).order(ByteOrder.LITTLE_ENDIAN);
        long pos = dataStart + e.begin;
        int done = 0;
        while (done < n) {
            int k = Math.min(n - done, buf.capacity() / es);
            buf.clear().limit(k * es);
            try {
                readFully(channel, buf, pos);
            } catch (IOException ex) {
                throw VitrimException.of(path, "cannot read tensor \"" + name + "\": " + ex.getMessage());
            }
            buf.flip();
            pos += (long) k * es;
            switch (e.dtype) {
                case F32:
                    buf.asFloatBuffer().get(out, done, k);
                    break;
                case F64:
                    for (int i = 0; i < k; i++) out[done + i] = (float) buf.getDouble(8 * i);
                    break;
                case F16:
                    for (int i = 0; i < k; i++) out[done + i] = halfToFloat(buf.getShort(2 * i));
                    break;
                case BF16:
                    for (int i = 0; i < k; i++) out[done + i] = Float.intBitsToFloat((buf.getShort(2 * i) & 0xffff) << 16);
                    break;
                default:
                    throw new IllegalStateException();
            }
            done += k;
        }
        return out;
    }

    /** IEEE 754 binary16 to float (exact; handles subnormals, infinities, NaN). */
    public static float halfToFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0x1f) return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        if (exp == 0) {
            if (mant == 0) return Float.intBitsToFloat(sign);
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }

    // ------------------------------------------------------------------ writing

    /** A tensor to write: F32 data with its shape. */
    public record Tensor(float[] data, long... shape) {}

    /**
     * Writes F32 tensors (in map order) with optional string metadata, atomically: a temp file
     * in the same folder, then a rename.
     */
    public static void write(Path target, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        Map<String, Object> header = new LinkedHashMap<>();
        if (metadata != null && !metadata.isEmpty()) header.put("__metadata__", new LinkedHashMap<>(metadata));
        long off = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            long n = 1;
            for (long d : t.shape()) n *= d;
            if (n != t.data().length) throw new IllegalArgumentException(e.getKey() + ": shape does not match data length");
            Map<String, Object> h = new LinkedHashMap<>();
            h.put("dtype", "F32");
            List<Object> shape = new ArrayList<>();
            for (long d : t.shape()) shape.add(d);
            h.put("shape", shape);
            h.put("data_offsets", List.of(off, off + 4 * n));
            header.put(e.getKey(), h);
            off += 4 * n;
        }
        byte[] hj = Json.write(header).getBytes(StandardCharsets.UTF_8);
        int pad = (8 - hj.length % 8) % 8;
        byte[] hdr = Arrays.copyOf(hj, hj.length + pad);
        Arrays.fill(hdr, hj.length, hdr.length, (byte) ' ');
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + target.getFileName(), ".tmp");
        try {
            try (OutputStream os = new java.io.BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
                ByteBuffer lb = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(hdr.length);
                os.write(lb.array());
                os.write(hdr);
                ByteBuffer bb = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
                for (Tensor t : tensors.values()) {
                    for (float f : t.data()) {
                        if (!bb.hasRemaining()) {
                            os.write(bb.array(), 0, bb.position());
                            bb.clear();
                        }
                        bb.putFloat(f);
                    }
                }
                os.write(bb.array(), 0, bb.position());
            }
            AtomicFiles.moveInto(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
