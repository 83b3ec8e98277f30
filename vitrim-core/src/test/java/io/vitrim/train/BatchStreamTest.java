package io.vitrim.train;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The background batch producer: order, and the wait it reports (the loop's data stall). */
class BatchStreamTest {
    static BatchStream.Batch batch(int s) {
        return new BatchStream.Batch(new float[] {s}, new int[] {s}, null);
    }

    @Test
    void deliversTheBatchesInOrderFromTheStartStep() throws InterruptedException {
        try (BatchStream bs = new BatchStream(6, 2, BatchStreamTest::batch)) {
            for (int s = 2; s < 6; s++) assertThat(bs.next().labels()).containsExactly(s);
        }
    }

    @Test
    @org.junit.jupiter.api.Timeout(20)
    void aSlowProducerShowsAsWaitAFastOneDoesNot() throws InterruptedException {
        Thread consumer = Thread.currentThread();
        java.util.concurrent.atomic.AtomicInteger asked = new java.util.concurrent.atomic.AtomicInteger(-1);
        try (BatchStream slow = new BatchStream(4, 0, s -> {
            // the loop has asked for batch s and is blocked in next() (a state seen after it asked,
            // not the one left over from waiting for batch s - 1) ...
            while (asked.get() != s && !Thread.currentThread().isInterrupted()) sleep(1);
            awaitState(consumer, Thread.State.WAITING);
            sleep(50); // ... for at least these 50 ms
            return batch(s);
        })) {
            for (int s = 0; s < 4; s++) {
                asked.set(s);
                slow.next();
            }
            assertThat(slow.waitSeconds()).as("4 batches, each made while the loop waited >= 50 ms").isGreaterThanOrEqualTo(0.2);
        }
        java.util.concurrent.atomic.AtomicReference<Thread> producer = new java.util.concurrent.atomic.AtomicReference<>();
        try (BatchStream fast = new BatchStream(3, 0, s -> {
            producer.set(Thread.currentThread());
            return batch(s);
        })) {
            while (producer.get() == null) sleep(1);
            awaitState(producer.get(), Thread.State.TERMINATED); // all 3 batches are queued before the loop asks
            for (int s = 0; s < 3; s++) fast.next();
            assertThat(fast.waitSeconds()).as("batches ready before they were asked for: next() never blocks").isLessThan(0.1);
        }
    }

    @Test
    @org.junit.jupiter.api.Timeout(20)
    void aFailureInTheProducerReachesTheLoopEvenWithAFullQueue() throws InterruptedException {
        java.util.concurrent.atomic.AtomicReference<Thread> producer = new java.util.concurrent.atomic.AtomicReference<>();
        try (BatchStream bs = new BatchStream(10, 0, s -> {
            producer.set(Thread.currentThread());
            if (s == 3) throw new IllegalStateException("bad image 3");
            return batch(s);
        })) {
            while (producer.get() == null) sleep(1);
            // batches 0-2 fill the queue (its capacity is 3); 3 fails and the producer blocks putting the
            // failure behind them (the offer() this once had dropped it and ended the thread, and next() waited for ever)
            awaitState(producer.get(), Thread.State.WAITING);
            for (int s = 0; s < 3; s++) assertThat(bs.next().labels()).containsExactly(s);
            org.assertj.core.api.Assertions.assertThatThrownBy(bs::next).hasMessage("bad image 3");
        }
    }

    /** Waits (at most 10 s, then fails) until {@code t} is in {@code state}. */
    static void awaitState(Thread t, Thread.State state) {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (t.getState() != state) {
            if (System.nanoTime() > deadline) throw new AssertionError(t.getName() + " never reached " + state + " (is " + t.getState() + ")");
            sleep(1);
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
