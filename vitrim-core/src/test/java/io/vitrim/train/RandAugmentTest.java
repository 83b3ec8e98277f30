package io.vitrim.train;

import io.vitrim.io.Json;
import io.vitrim.testing.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.Base64;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every RandAugment operation against torchvision's {@code _apply_op} on PIL images
 * ({@code make_fixtures.py augment}): photo and noise images of 24×20, bins 0/9/30 and both signs.
 */
class RandAugmentTest {
    private static RandAugment.Op op(String torchvisionName) {
        return RandAugment.Op.valueOf(torchvisionName.replaceAll("([a-z])([A-Z])", "$1_$2").toUpperCase(Locale.ROOT));
    }

    @Test
    void everyOperationMatchesTorchvisionOnPil() {
        Json.Obj f = Fixtures.load("train/randaugment.json");
        int h = f.intValue("height", 0), w = f.intValue("width", 0);
        List<Object> images = f.list("images");
        Set<RandAugment.Op> seen = EnumSet.noneOf(RandAugment.Op.class);
        int cases = 0;
        for (Object o : f.list("cases")) {
            Json.Obj c = new Json.Obj(asMap(o), "case");
            RandAugment.Op op = op(c.str("op", null));
            byte[] img = Base64.getDecoder().decode((String) images.get(c.intValue("image", 0)));
            byte[] want = Base64.getDecoder().decode(c.str("expected", null));
            // the magnitude as vitrim computes it from the bin, signed as the case says
            double mag = RandAugment.magnitude(op, c.intValue("bin", 0), h, w) * c.intValue("sign", 1);
            assertThat(mag).as("%s bin %d", op, c.intValue("bin", 0)).isCloseTo(c.number("magnitude", 0), org.assertj.core.data.Offset.offset(1e-4));
            RandAugment.apply(op, mag, img, h, w, new byte[img.length]);
            int differ = 0, maxDiff = 0;
            for (int i = 0; i < img.length; i++) {
                int d = Math.abs((img[i] & 0xff) - (want[i] & 0xff));
                if (d > 0) differ++;
                maxDiff = Math.max(maxDiff, d);
            }
            String what = op + " " + c.number("magnitude", 0) + " on image " + c.intValue("image", 0);
            if (op == RandAugment.Op.SHARPNESS || op == RandAugment.Op.BRIGHTNESS || op == RandAugment.Op.COLOR || op == RandAugment.Op.CONTRAST) {
                // float blends: at most one level off from Pillow's rounding
                assertThat(maxDiff).as(what).isLessThanOrEqualTo(1);
            } else {
                assertThat(differ).as(what + ": values that differ from Pillow's").isZero();
            }
            seen.add(op);
            cases++;
        }
        assertThat(seen).containsExactlyInAnyOrder(RandAugment.Op.values());
        assertThat(cases).isGreaterThan(60);
    }

    @Test
    void policyIsDeterministicGivenTheSeedAndChangesTheImage() {
        byte[] base = new byte[32 * 32 * 3];
        new SplittableRandom(3).nextBytes(base);
        byte[] a = base.clone(), b = base.clone(), tmp = new byte[base.length];
        RandAugment.apply(a, 32, 32, 2, 9, new SplittableRandom(11), tmp);
        RandAugment.apply(b, 32, 32, 2, 9, new SplittableRandom(11), tmp);
        assertThat(a).isEqualTo(b);
        int changed = 0;
        for (long s = 0; s < 20; s++) {
            byte[] c = base.clone();
            RandAugment.apply(c, 32, 32, 2, 9, new SplittableRandom(s), tmp);
            if (!java.util.Arrays.equals(c, base)) changed++;
        }
        assertThat(changed).isGreaterThanOrEqualTo(15);
    }

    @SuppressWarnings("unchecked")
    private static java.util.Map<String, Object> asMap(Object o) {
        return (java.util.Map<String, Object>) o;
    }
}
