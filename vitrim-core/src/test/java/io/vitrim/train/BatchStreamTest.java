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
    void aSlowProducerShowsAsWaitAFastOneDoesNot() throws InterruptedException {
        try (BatchStream slow = new BatchStream(4, 0, s -> {
            sleep(50);
            return batch(s);
        })) {
            for (int s = 0; s < 4; s++) slow.next();
            assertThat(slow.waitSeconds()).as("4 batches of 50 ms each, consumed at once").isGreaterThan(0.15);
        }
        try (BatchStream fast = new BatchStream(3, 0, BatchStreamTest::batch)) {
            sleep(200); // the consumer is slower: the queue is full when it asks
            for (int s = 0; s < 3; s++) fast.next();
            assertThat(fast.waitSeconds()).as("batches ready before they were asked for").isLessThan(0.1);
        }
    }

    @Test
    @org.junit.jupiter.api.Timeout(20) // the old offer() lost the failure and next() waited for ever
    void aFailureInTheProducerReachesTheLoopEvenWithAFullQueue() throws InterruptedException {
        try (BatchStream bs = new BatchStream(10, 0, s -> {
            if (s == 4) throw new IllegalStateException("bad image 4");
            return batch(s);
        })) {
            sleep(200); // batches 0-2 fill the queue, 3 waits, then 4 fails behind them
            for (int s = 0; s < 4; s++) assertThat(bs.next().labels()).containsExactly(s);
            org.assertj.core.api.Assertions.assertThatThrownBy(bs::next).hasMessage("bad image 4");
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
