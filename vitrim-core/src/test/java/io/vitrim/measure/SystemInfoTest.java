package io.vitrim.measure;

import io.vitrim.engine.VecMath;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class SystemInfoTest {
    @Test
    void summaryNamesCpuCoresVectorsAndJdk() {
        assertThat(SystemInfo.summary()).contains(SystemInfo.cores() + " cores")
                .contains(VecMath.F.vectorBitSize() + "-bit vectors").contains(String.valueOf(Runtime.version().feature()));
    }

    /** The note fires exactly when the AVX2 GEMM runs a tile slower than this JVM could, as one line that says what to do. */
    @Test
    void speedNoteOnlyWhereTheTileIsTheSlowerOne() {
        assertThat(SystemInfo.speedNote(512, 8, 17, false)).isNull();          // AVX-512: one tile
        assertThat(SystemInfo.speedNote(128, 6, 17, false)).isNull();          // NEON: not measured, no advice
        assertThat(SystemInfo.speedNote(256, 6, 25, true)).isNull();           // JDK 25 + G1: the fast tile
        assertThat(SystemInfo.speedNote(256, 4, 17, false))
                .startsWith("JDK 17: ").contains("4-row tile").contains("JDK 25").contains("G1").doesNotContain("\n");
        assertThat(SystemInfo.speedNote(256, 4, 25, false)).startsWith("loop strip mining is off").contains("G1");
        assertThat(SystemInfo.speedNote(256, 6, 17, false)).contains("forced to its 6-row tile").contains("spills");
        assertThat(SystemInfo.speedNote(256, 4, 25, true)).contains("4-row tile was forced");
    }
}
