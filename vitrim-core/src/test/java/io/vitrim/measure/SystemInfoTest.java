package io.vitrim.measure;

import io.vitrim.engine.VecMath;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;

import static org.assertj.core.api.Assertions.assertThat;

class SystemInfoTest {
    @Test
    void summaryNamesCpuCoresVectorsAndJdk() {
        assertThat(SystemInfo.summary()).contains(SystemInfo.cores() + " cores")
                .contains(VecMath.F.vectorBitSize() + "-bit vectors").contains(String.valueOf(Runtime.version().feature()));
    }

    /** The note fires exactly on the JVMs measured slow on AVX2, as one line that says what to do. */
    @Test
    void speedNoteOnlyWhereTheKernelWasMeasuredSlow() {
        String note = SystemInfo.speedNote();
        boolean avx2 = VecMath.F.vectorBitSize() == 256;
        boolean stripMined = ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .noneMatch(a -> a.equals("-XX:+UseParallelGC") || a.equals("-XX:+UseSerialGC") || a.equals("-XX:-UseCountedLoopSafepoints"));
        if (!avx2) {
            assertThat(note).isNull();
        } else if (Runtime.version().feature() < 25) {
            assertThat(note).contains("JDK " + Runtime.version().feature()).contains("JAVA_HOME").contains("JDK 25").doesNotContain("\n");
        } else if (stripMined) {
            assertThat(note).isNull();
        } else {
            assertThat(note).contains("strip mining").contains("G1").doesNotContain("\n");
        }
    }
}
