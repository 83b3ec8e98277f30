package io.vitrim.engine;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * A small fork-join pool for data-parallel loops: {@code forEach(tasks, body)} runs
 * {@code body.accept(i)} for {@code i in [0, tasks)} on the calling thread plus {@code threads-1}
 * workers, with dynamic scheduling.
 *
 * <p>Why not {@link java.util.concurrent.ForkJoinPool}: a forward pass has ~100 parallel regions;
 * waking workers that spin briefly before parking keeps the per-region cost at a few microseconds,
 * which matters at batch 1.
 *
 * <p>Re-entrancy and sharing: a region started while another region of the same pool is running
 * (a nested call, or a second caller thread) runs inline on its caller. Kernels never make their
 * results depend on how tasks are split, so inline and parallel runs give identical bits.
 */
public final class Parallel implements AutoCloseable {
    private static final long SPIN_NANOS = 200_000L;

    private final int threads;
    private final Worker[] workers;
    private final AtomicBoolean busy = new AtomicBoolean();
    private volatile boolean closed;

    // Current job, published by the generation counter.
    private volatile int generation;
    private volatile IntConsumer body;
    private volatile int taskCount;
    private final AtomicInteger next = new AtomicInteger();
    private final AtomicInteger pendingWorkers = new AtomicInteger();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();

    private static final Parallel SERIAL = new Parallel(1);

    private Parallel(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = threads;
        this.workers = new Worker[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker("vitrim-worker-" + i);
            workers[i].start();
        }
    }

    /** A pool with {@code threads} threads in all (the caller counts as one). */
    public static Parallel create(int threads) {
        return threads == 1 ? SERIAL : new Parallel(threads);
    }

    /** The shared single-threaded pool (no worker threads). */
    public static Parallel serial() {
        return SERIAL;
    }

    public int threads() {
        return threads;
    }

    /** Runs {@code body} for every task index; returns when all are done, rethrowing the first failure. */
    public void forEach(int tasks, IntConsumer body) {
        if (tasks <= 0) return;
        if (tasks == 1 || workers.length == 0 || closed || !busy.compareAndSet(false, true)) {
            for (int i = 0; i < tasks; i++) body.accept(i);
            return;
        }
        try {
            this.body = body;
            this.taskCount = tasks;
            next.set(0);
            failure.set(null);
            pendingWorkers.set(workers.length);
            generation++; // publishes the job
            for (Worker w : workers) if (w.parked) LockSupport.unpark(w);
            runTasks(body, tasks);
            while (pendingWorkers.get() != 0) {
                // closed meanwhile: a worker that had already left will never take this job
                if (closed && noWorkerAlive()) break;
                Thread.onSpinWait();
            }
            this.body = null;
            Throwable t = failure.get();
            if (t != null) {
                if (t instanceof RuntimeException) throw (RuntimeException) t;
                if (t instanceof Error) throw (Error) t;
                throw new RuntimeException(t);
            }
        } finally {
            busy.set(false);
        }
    }

    /** Splits {@code [0, n)} into about {@code chunksPerThread * threads} ranges and runs them in parallel. */
    public void forRange(int n, int minChunk, RangeBody body) {
        if (n <= 0) return;
        int chunks = Math.max(1, Math.min(threads * 4, (n + minChunk - 1) / Math.max(1, minChunk)));
        int size = (n + chunks - 1) / chunks;
        int count = (n + size - 1) / size;
        forEach(count, c -> body.run(c * size, Math.min(n, (c + 1) * size)));
    }

    /** A half-open index range body. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int from, int to);
    }

    private boolean noWorkerAlive() {
        for (Worker w : workers) if (w.isAlive()) return false;
        return true;
    }

    private void runTasks(IntConsumer b, int tasks) {
        int i;
        while ((i = next.getAndIncrement()) < tasks) {
            try {
                b.accept(i);
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        }
    }

    @Override
    public void close() {
        if (this == SERIAL || closed) return;
        closed = true;
        for (Worker w : workers) LockSupport.unpark(w);
    }

    private final class Worker extends Thread {
        volatile boolean parked;
        private int seen;

        Worker(String name) {
            super(name);
            setDaemon(true);
        }

        @Override
        public void run() {
            while (true) {
                long spinStart = System.nanoTime();
                while (generation == seen && !closed) {
                    if (System.nanoTime() - spinStart < SPIN_NANOS) {
                        Thread.onSpinWait();
                    } else {
                        parked = true;
                        if (generation == seen && !closed) LockSupport.parkNanos(this, 50_000_000L);
                        parked = false;
                        spinStart = System.nanoTime();
                    }
                }
                if (generation == seen) return; // closed and idle: a published job is finished first
                seen = generation;
                IntConsumer b = body;
                int tasks = taskCount;
                if (b != null) runTasks(b, tasks);
                pendingWorkers.decrementAndGet();
            }
        }
    }
}
