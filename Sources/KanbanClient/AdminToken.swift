import Foundation

/// The admin credential: `KANBAN_BRIDGE_ADMIN_TOKEN` if set, else the file `admin.token` next to
/// the board, created with mode 0600 on first start. The CLI finds it the same way.
public enum AdminToken {
    public static let environmentKey = "KANBAN_BRIDGE_ADMIN_TOKEN"

    /// The token file for a board at `dbPath`.
    public static func filePath(forBoard dbPath: String) -> String {
        let dir = URL(fileURLWithPath: dbPath).deletingLastPathComponent().path
        return dir + "/admin.token"
    }

    /// The token from the environment or the file, or nil when neither has one.
    public static func find(boardPath: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let t = environment[environmentKey], !t.isEmpty { return t }
        guard let data = FileManager.default.contents(atPath: filePath(forBoard: boardPath)) else { return nil }
        let t = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return t.isEmpty ? nil : t
    }

    /// Finds the token, creating the file (mode 0600, written atomically) when there is none.
    public static func loadOrCreate(boardPath: String, newToken: () -> String) throws -> (token: String, created: Bool) {
        if let t = find(boardPath: boardPath) { return (t, false) }
        let path = filePath(forBoard: boardPath)
        let token = newToken()
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else {
            // Another process created it first: use theirs.
            if errno == EEXIST, let t = find(boardPath: boardPath) { return (t, false) }
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        let bytes = Array((token + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        fsync(fd)
        close(fd)
        guard written == bytes.count else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
        return (token, true)
    }
}
