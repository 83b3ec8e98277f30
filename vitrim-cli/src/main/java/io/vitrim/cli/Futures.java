package io.vitrim.cli;

import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/** Waits for a future and rethrows its failure unwrapped. */
final class Futures {
    private Futures() {}

    static <T> T await(Future<T> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException) throw (RuntimeException) c;
            if (c instanceof Error) throw (Error) c;
            throw new IllegalStateException(c);
        }
    }
}
