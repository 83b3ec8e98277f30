package io.vitrim;

/**
 * A problem with what the user passed (a file, a spec, an option): its message is one line that
 * names the thing and the problem, fit to print as is. The CLI maps it to exit code 2.
 */
public class VitrimException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public VitrimException(String message) {
        super(message);
    }

    public VitrimException(String message, Throwable cause) {
        super(message, cause);
    }

    /** "{@code what}: {@code problem}" — the house style for messages about a file or a spec. */
    public static VitrimException of(Object what, String problem) {
        return new VitrimException(what + ": " + problem);
    }
}
