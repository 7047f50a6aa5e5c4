/// How long work other than an ingest reports progress (a compaction's input files, a
/// rewrite's files, a generator's orders): units done so far and the total, done rising to
/// total. The pipeline never prints; the CLI draws it. Called from the worker threads of
/// parallel work, one call at a time.
public typealias WorkProgress = @Sendable (_ done: Int64, _ total: Int64) -> Void
