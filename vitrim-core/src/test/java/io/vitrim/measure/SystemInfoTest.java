package io.vitrim.measure;

import io.vitrim.engine.Gemm;
import io.vitrim.engine.Jit;
import io.vitrim.engine.VecMath;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class SystemInfoTest {
    @Test
    void summaryNamesCpuCoresVectorsAndJdk() {
        assertThat(SystemInfo.summary()).contains(SystemInfo.cores() + " cores")
                .contains(VecMath.F.vectorBitSize() + "-bit vectors").contains(String.valueOf(Runtime.version().feature()));
    }

    /** The note fires exactly when the AVX2 GEMM runs its slower 4-row tile, as one line that says what to do. */
    @Test
    void speedNoteOnlyOnTheSlowerAvx2Tile() {
        String note = SystemInfo.speedNote();
        if (VecMath.F.vectorBitSize() == 256 && Gemm.MR == 4 && !Jit.keepsSixRowTile()) {
            assertThat(note).contains("4-row tile").contains("JDK 25").contains("G1").doesNotContain("\n");
            if (Runtime.version().feature() < 25) assertThat(note).startsWith("JDK " + Runtime.version().feature());
        } else {
            assertThat(note).isNull();
        }
    }
}
