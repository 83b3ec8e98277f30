package io.vitrim.engine;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ParallelTest {
    @Test
    void runsEveryTaskOnceAndPropagatesFailures() {
        try (Parallel p = Parallel.create(3)) {
            for (int round = 0; round < 200; round++) {
                int n = 1 + round % 37;
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                p.forEach(n, hits::incrementAndGet);
                for (int i = 0; i < n; i++) assertThat(hits.get(i)).isEqualTo(1);
            }
            assertThatThrownBy(() -> p.forEach(10, i -> {
                if (i == 7) throw new IllegalStateException("boom");
            })).hasMessage("boom");
            // still usable after a failure, and nested regions run inline
            AtomicInteger total = new AtomicInteger();
            p.forEach(4, i -> p.forEach(5, j -> total.incrementAndGet()));
            assertThat(total.get()).isEqualTo(20);
        }
    }

    @Test
    void concurrentCallersShareThePool() throws Exception {
        try (Parallel p = Parallel.create(2)) {
            AtomicInteger total = new AtomicInteger();
            Thread[] ts = new Thread[4];
            for (int t = 0; t < ts.length; t++) {
                ts[t] = new Thread(() -> {
                    for (int r = 0; r < 100; r++) p.forEach(16, i -> total.incrementAndGet());
                });
                ts[t].start();
            }
            for (Thread t : ts) t.join();
            assertThat(total.get()).isEqualTo(4 * 100 * 16);
        }
    }
}
