/** How the pipeline talks to its face (CLI terminal or Actions log) without knowing which one it is. */
export interface PipelineHooks {
  /** A progress line. */
  info(line: string): void;
  /** A labelled stage; the action folds it into a collapsible group, the CLI prints a header. */
  group<T>(title: string, run: () => Promise<T>): Promise<T>;
  /** Progress of long work; `final` is its last line. A terminal redraws one line, a log gets each. */
  progress(line: string, final: boolean): void;
  /** The face redraws a progress line in place (a terminal), so it can be updated often. */
  updatesInPlace?: boolean;
  /** Live output of the rerun, as it arrives. */
  output(chunk: Buffer): void;
}
