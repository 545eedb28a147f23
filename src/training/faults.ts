/**
 * Fault points of the checkpoint manager: where the crash tests (`scripts/fault-injection.mjs`)
 * kill the process on purpose. `VIDEOBERT_FAULT_POINT=<point>@<n>` makes the n-th arrival at
 * `<point>` SIGKILL this process (the native writes have their own points under the same variable:
 * `crates/videobert-common/src/fault.rs`). Unset, as always outside those tests, a point is a
 * no-op.
 *
 * The points of one `CheckpointManager.save`, in order:
 * `checkpoint:files-written` (model and extra files in `.tmp-step-N/`), `checkpoint:state-written`
 * (trainer_state.json too, not yet synced), `checkpoint:before-rename` (all synced),
 * `checkpoint:after-rename` (`step-N/` in place, older ones not yet pruned) and
 * `checkpoint:pruned-one` (one older checkpoint removed, the rest of the pruning not done).
 */
const armed = /^(.+)@(\d+)$/.exec(process.env.VIDEOBERT_FAULT_POINT ?? '')
let seen = 0

export function faultPoint(point: string): void {
  if (armed === null || armed[1] !== point) return
  seen += 1
  if (seen === Number(armed[2])) process.kill(process.pid, 'SIGKILL')
}
