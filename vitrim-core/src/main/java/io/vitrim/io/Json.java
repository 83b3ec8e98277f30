package io.vitrim.io;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small, strict JSON reader and writer (RFC 8259) so that the core needs nothing beyond the
 * JDK. Values map to {@code Map<String,Object>} (insertion-ordered), {@code List<Object>},
 * {@code String}, {@code Double}/{@code Long}, {@code Boolean} and {@code null}. Nesting depth is
 * limited so a hostile header cannot overflow the stack.
 */
public final class Json {
    private static final int MAX_DEPTH = 256;

    private final String s;
    private int pos;

    private Json(String s) {
        this.s = s;
    }

    /** Thrown for malformed input; the message gives the character position. */
    public static final class ParseException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        ParseException(String message) {
            super(message);
        }
    }

    public static Object parse(String text) {
        Json p = new Json(text);
        p.ws();
        Object v = p.value(0);
        p.ws();
        if (p.pos != text.length()) throw p.error("unexpected trailing characters");
        return v;
    }

    /** Parses and requires an object at the top level. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> parseObject(String text) {
        Object v = parse(text);
        if (!(v instanceof Map)) throw new ParseException("expected a JSON object at the top level");
        return (Map<String, Object>) v;
    }

    private ParseException error(String msg) {
        return new ParseException(msg + " at character " + pos);
    }

    private void ws() {
        while (pos < s.length()) {
            char c = s.charAt(pos);
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') pos++;
            else break;
        }
    }

    private Object value(int depth) {
        if (depth > MAX_DEPTH) throw error("nesting deeper than " + MAX_DEPTH);
        if (pos >= s.length()) throw error("unexpected end of input");
        char c = s.charAt(pos);
        switch (c) {
            case '{': return object(depth);
            case '[': return array(depth);
            case '"': return string();
            case 't': return literal("true", Boolean.TRUE);
            case 'f': return literal("false", Boolean.FALSE);
            case 'n': return literal("null", null);
            default:
                if (c == '-' || (c >= '0' && c <= '9')) return number();
                throw error("unexpected character '" + printable(c) + "'");
        }
    }

    private static String printable(char c) {
        return c < 32 || c > 126 ? String.format("\\u%04x", (int) c) : String.valueOf(c);
    }

    private Object literal(String word, Object v) {
        if (!s.startsWith(word, pos)) throw error("invalid literal");
        pos += word.length();
        return v;
    }

    private Map<String, Object> object(int depth) {
        pos++;
        Map<String, Object> m = new LinkedHashMap<>();
        ws();
        if (pos < s.length() && s.charAt(pos) == '}') {
            pos++;
            return m;
        }
        while (true) {
            ws();
            if (pos >= s.length() || s.charAt(pos) != '"') throw error("expected a string key");
            String k = string();
            ws();
            if (pos >= s.length() || s.charAt(pos) != ':') throw error("expected ':'");
            pos++;
            ws();
            Object v = value(depth + 1);
            if (m.containsKey(k)) throw error("duplicate key \"" + k + "\"");
            m.put(k, v);
            ws();
            if (pos >= s.length()) throw error("unterminated object");
            char c = s.charAt(pos++);
            if (c == '}') return m;
            if (c != ',') throw error("expected ',' or '}'");
        }
    }

    private List<Object> array(int depth) {
        pos++;
        List<Object> l = new ArrayList<>();
        ws();
        if (pos < s.length() && s.charAt(pos) == ']') {
            pos++;
            return l;
        }
        while (true) {
            ws();
            l.add(value(depth + 1));
            ws();
            if (pos >= s.length()) throw error("unterminated array");
            char c = s.charAt(pos++);
            if (c == ']') return l;
            if (c != ',') throw error("expected ',' or ']'");
        }
    }

    private String string() {
        pos++;
        StringBuilder b = new StringBuilder();
        while (true) {
            if (pos >= s.length()) throw error("unterminated string");
            char c = s.charAt(pos++);
            if (c == '"') return b.toString();
            if (c < 0x20) throw error("control character in string");
            if (c != '\\') {
                b.append(c);
                continue;
            }
            if (pos >= s.length()) throw error("unterminated escape");
            char e = s.charAt(pos++);
            switch (e) {
                case '"': b.append('"'); break;
                case '\\': b.append('\\'); break;
                case '/': b.append('/'); break;
                case 'b': b.append('\b'); break;
                case 'f': b.append('\f'); break;
                case 'n': b.append('\n'); break;
                case 'r': b.append('\r'); break;
                case 't': b.append('\t'); break;
                case 'u':
                    if (pos + 4 > s.length()) throw error("bad \\u escape");
                    int cp = 0;
                    for (int i = 0; i < 4; i++) {
                        int d = Character.digit(s.charAt(pos++), 16);
                        if (d < 0) throw error("bad \\u escape");
                        cp = cp * 16 + d;
                    }
                    b.append((char) cp);
                    break;
                default: throw error("bad escape '\\" + printable(e) + "'");
            }
        }
    }

    private Object number() {
        int start = pos;
        if (s.charAt(pos) == '-') pos++;
        int intStart = pos;
        while (pos < s.length() && Character.isDigit(s.charAt(pos))) pos++;
        if (pos == intStart) throw error("bad number");
        if (s.charAt(intStart) == '0' && pos - intStart > 1) throw error("leading zero in number");
        boolean integral = true;
        if (pos < s.length() && s.charAt(pos) == '.') {
            integral = false;
            pos++;
            int f = pos;
            while (pos < s.length() && Character.isDigit(s.charAt(pos))) pos++;
            if (pos == f) throw error("bad fraction");
        }
        if (pos < s.length() && (s.charAt(pos) == 'e' || s.charAt(pos) == 'E')) {
            integral = false;
            pos++;
            if (pos < s.length() && (s.charAt(pos) == '+' || s.charAt(pos) == '-')) pos++;
            int f = pos;
            while (pos < s.length() && Character.isDigit(s.charAt(pos))) pos++;
            if (pos == f) throw error("bad exponent");
        }
        String t = s.substring(start, pos);
        if (integral && pos - start <= 18) return Long.parseLong(t);
        return Double.parseDouble(t);
    }

    // ------------------------------------------------------------------ writing

    /** Compact JSON text of a value built from maps, lists, strings, numbers, booleans, arrays. */
    public static String write(Object v) {
        StringBuilder b = new StringBuilder();
        write(b, v, -1, 0);
        return b.toString();
    }

    /** Pretty-printed JSON (2-space indent). */
    public static String writePretty(Object v) {
        StringBuilder b = new StringBuilder();
        write(b, v, 2, 0);
        return b.append('\n').toString();
    }

    private static void write(StringBuilder b, Object v, int indent, int level) {
        if (v == null) {
            b.append("null");
        } else if (v instanceof String) {
            quote(b, (String) v);
        } else if (v instanceof Float || v instanceof Double) {
            double d = ((Number) v).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) b.append("null");
            else if (v instanceof Float) b.append(Float.toString((Float) v));
            else b.append(Double.toString(d));
        } else if (v instanceof Number || v instanceof Boolean) {
            b.append(v);
        } else if (v instanceof Map) {
            Map<?, ?> m = (Map<?, ?>) v;
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : m.entrySet()) {
                if (!first) b.append(',');
                first = false;
                newline(b, indent, level + 1);
                quote(b, String.valueOf(e.getKey()));
                b.append(indent >= 0 ? ": " : ":");
                write(b, e.getValue(), indent, level + 1);
            }
            if (!m.isEmpty()) newline(b, indent, level);
            b.append('}');
        } else if (v instanceof Iterable) {
            List<Object> items = new ArrayList<>();
            for (Object o : (Iterable<?>) v) items.add(o);
            writeArray(b, items, indent, level);
        } else if (v instanceof float[]) {
            float[] a = (float[]) v;
            List<Object> items = new ArrayList<>(a.length);
            for (float f : a) items.add(f);
            writeFlat(b, items);
        } else if (v instanceof double[]) {
            double[] a = (double[]) v;
            List<Object> items = new ArrayList<>(a.length);
            for (double f : a) items.add(f);
            writeFlat(b, items);
        } else if (v instanceof int[]) {
            int[] a = (int[]) v;
            List<Object> items = new ArrayList<>(a.length);
            for (int f : a) items.add(f);
            writeFlat(b, items);
        } else if (v instanceof Object[]) {
            List<Object> items = new ArrayList<>();
            Collections.addAll(items, (Object[]) v);
            writeArray(b, items, indent, level);
        } else {
            quote(b, v.toString());
        }
    }

    private static void writeFlat(StringBuilder b, List<Object> items) {
        b.append('[');
        for (int i = 0; i < items.size(); i++) {
            if (i > 0) b.append(',');
            write(b, items.get(i), -1, 0);
        }
        b.append(']');
    }

    private static void writeArray(StringBuilder b, List<Object> items, int indent, int level) {
        boolean scalars = items.stream().allMatch(o -> o == null || o instanceof Number || o instanceof Boolean || o instanceof String);
        if (scalars || indent < 0) {
            b.append('[');
            for (int i = 0; i < items.size(); i++) {
                if (i > 0) b.append(indent >= 0 ? ", " : ",");
                write(b, items.get(i), indent, level + 1);
            }
            b.append(']');
            return;
        }
        b.append('[');
        for (int i = 0; i < items.size(); i++) {
            if (i > 0) b.append(',');
            newline(b, indent, level + 1);
            write(b, items.get(i), indent, level + 1);
        }
        if (!items.isEmpty()) newline(b, indent, level);
        b.append(']');
    }

    private static void newline(StringBuilder b, int indent, int level) {
        if (indent < 0) return;
        b.append('\n');
        for (int i = 0; i < indent * level; i++) b.append(' ');
    }

    private static void quote(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                    else b.append(c);
            }
        }
        b.append('"');
    }

    // ------------------------------------------------------------------ typed access helpers

    /** Typed getters over parsed maps that fail with a message naming the key. */
    public static final class Obj {
        private final Map<String, Object> m;
        private final String where;

        public Obj(Map<String, Object> m, String where) {
            this.m = m;
            this.where = where;
        }

        public boolean has(String k) {
            return m.containsKey(k) && m.get(k) != null;
        }

        public Map<String, Object> raw() {
            return m;
        }

        private ParseException bad(String k, String want) {
            return new ParseException(where + ": \"" + k + "\" must be " + want + ", got " + Json.write(m.get(k)));
        }

        public String str(String k, String def) {
            if (!has(k)) return def;
            Object v = m.get(k);
            if (!(v instanceof String)) throw bad(k, "a string");
            return (String) v;
        }

        public long integer(String k, long def) {
            if (!has(k)) return def;
            Object v = m.get(k);
            if (v instanceof Long) return (Long) v;
            if (v instanceof Double && ((Double) v) == Math.rint((Double) v) && Math.abs((Double) v) < 1e15) return (long) (double) (Double) v;
            throw bad(k, "an integer");
        }

        public int intValue(String k, int def) {
            long v = integer(k, def);
            if (v > Integer.MAX_VALUE || v < Integer.MIN_VALUE) throw bad(k, "a 32-bit integer");
            return (int) v;
        }

        public double number(String k, double def) {
            if (!has(k)) return def;
            Object v = m.get(k);
            if (!(v instanceof Number)) throw bad(k, "a number");
            return ((Number) v).doubleValue();
        }

        public boolean bool(String k, boolean def) {
            if (!has(k)) return def;
            Object v = m.get(k);
            if (!(v instanceof Boolean)) throw bad(k, "true or false");
            return (Boolean) v;
        }

        @SuppressWarnings("unchecked")
        public Obj obj(String k) {
            if (!has(k)) return null;
            Object v = m.get(k);
            if (!(v instanceof Map)) throw bad(k, "an object");
            return new Obj((Map<String, Object>) v, where + "." + k);
        }

        @SuppressWarnings("unchecked")
        public List<Object> list(String k) {
            if (!has(k)) return null;
            Object v = m.get(k);
            if (!(v instanceof List)) throw bad(k, "an array");
            return (List<Object>) v;
        }

        public double[] numbers(String k) {
            List<Object> l = list(k);
            if (l == null) return null;
            double[] r = new double[l.size()];
            for (int i = 0; i < r.length; i++) {
                if (!(l.get(i) instanceof Number)) throw bad(k, "an array of numbers");
                r[i] = ((Number) l.get(i)).doubleValue();
            }
            return r;
        }

        public Object get(String k) {
            return m.get(k);
        }
    }
}
