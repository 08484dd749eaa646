/**
 * Imported first by the entry points (CLI tasks, the bench) so that {@link widenSoftwareSimd}
 * runs before `tensor/device.ts` acquires the device: Mesa's software drivers read their vector
 * width once, when they load.
 *
 * @module
 */

import { widenSoftwareSimd } from "./simd.ts";

widenSoftwareSimd();
