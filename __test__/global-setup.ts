/** One temporary root for every test file's directories, removed when the run ends. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'videobert-tests-'))
  process.env.VIDEOBERT_TEST_TMP = root
  return () => rmSync(root, { recursive: true, force: true })
}
