import Foundation
import KanbanModel

/// The end of a task's worker log, for `task.log`.
///
/// It runs on the owner thread, so it does one bounded thing: open the file named by
/// `WorkspaceLayout.logFile` (never a path built from the task id), `fstat`, one `pread` of at most
/// `maxBytes` (64 KiB) from the end, close. A local file read of that size takes microseconds; a log
/// on a slow network file system would be the operator's choice of `--log-dir`.
enum WorkerLogTail {
    struct Tail {
        let text: String
        /// The file's whole size.
        let size: Int64
        /// True when the file is longer than what was read.
        let truncated: Bool
    }

    /// The last `maxBytes` of `<dir>/<WorkspaceLayout.logFile(taskID)>`, or nil when there is none.
    static func read(dir: String, taskID: String, maxBytes: Int) -> Tail? {
        let path = dir + "/" + WorkspaceLayout.logFile(taskID: taskID)
        // O_NOFOLLOW: a symlink planted at the log's name is not followed elsewhere; O_NONBLOCK: a FIFO
        // planted there does not hang the loop.
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        let size = Int64(st.st_size)
        let want = Int(min(Int64(maxBytes), size))
        var buffer = [UInt8](repeating: 0, count: want)
        let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(size - Int64(want))) }
        guard got >= 0 else { return nil }
        var bytes = buffer[..<got]
        // Cut at the first line break when we started mid-file, so the tail begins with a whole line
        // (and not inside a UTF-8 sequence).
        if size > Int64(want), let newline = bytes.firstIndex(of: 10) { bytes = bytes[(newline + 1)...] }
        return Tail(text: String(decoding: bytes, as: UTF8.self), size: size, truncated: size > Int64(want))
    }
}
