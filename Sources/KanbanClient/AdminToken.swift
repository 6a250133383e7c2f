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

    /// The token from the environment or the file, or nil when neither has one. For clients: they
    /// read the file as it is, since a planted file only makes a client send a token its planter
    /// knows, which the coordinator refuses. Never print what this returns.
    public static func find(boardPath: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let t = environment[environmentKey], !t.isEmpty { return t }
        guard let data = FileManager.default.contents(atPath: filePath(forBoard: boardPath)) else { return nil }
        let t = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return t.isEmpty ? nil : t
    }

    /// The token in `admin.token` after the checks `serve` makes (`AdminTokenFile`), or nil when
    /// there is no file. Throws `UntrustedAdminToken`. The environment is not consulted.
    public static func loadTrusted(boardPath: String) throws -> String? {
        try AdminTokenFile.readTrusted(filePath(forBoard: boardPath))
    }

    /// Whether `serve`, running as `servingUser`, would trust `admin.token` (the checks of
    /// `loadTrusted`, without reading it): false when there is no file. Throws `UntrustedAdminToken`.
    public static func vetFile(boardPath: String, servingUser: uid_t) throws -> Bool {
        try AdminTokenFile.vet(filePath(forBoard: boardPath), owner: servingUser)
    }

    /// The token `serve` uses: from the environment, else from a trusted `admin.token`, else a new
    /// file (mode 0600, never over an existing one). Throws `UntrustedAdminToken` rather than adopt
    /// a file another user could have planted or read.
    public static func loadOrCreate(boardPath: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                                    newToken: () -> String) throws -> (token: String, created: Bool) {
        if let t = environment[environmentKey], !t.isEmpty { return (t, false) }
        if let t = try loadTrusted(boardPath: boardPath) { return (t, false) }
        let path = filePath(forBoard: boardPath)
        let token = newToken()
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            // Someone created it since we looked: another serve, or another user. Judge it like any other.
            if errno == EEXIST, let t = try loadTrusted(boardPath: boardPath) { return (t, false) }
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
