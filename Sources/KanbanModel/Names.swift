/// Validation of the names and ids that arrive from outside. Pure functions.
public enum Names {
    /// Hermes reserves `default` for its own default profile.
    public static let reservedLaneNames: Set<String> = ["default", "_"]

    /// Why a lane name was refused, or nil when it is valid.
    ///
    /// Lane names become ZeroMQ topic prefixes (`<lane>.<type>`) and Hermes assignees, so they are
    /// lowercase `[a-z0-9][a-z0-9_-]{0,63}`: no dot (a topic prefix must end at the lane) and no
    /// uppercase (Hermes lowercases assignees).
    public static func laneNameProblem(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 64 else { return "lane names are 1 to 64 characters" }
        func isLowerAlnum(_ b: UInt8) -> Bool { (b >= 97 && b <= 122) || (b >= 48 && b <= 57) }
        guard isLowerAlnum(bytes[0]) else { return "a lane name starts with a lowercase letter or digit" }
        for b in bytes.dropFirst() where !(isLowerAlnum(b) || b == 95 || b == 45) {
            return "a lane name holds only a-z, 0-9, '_' and '-'"
        }
        if reservedLaneNames.contains(name) { return "'\(name)' is reserved by Hermes" }
        return nil
    }

    /// True for task ids the bridge accepts: Hermes' `t_<hex>` and other printable ids up to 64 bytes.
    public static func isValidTaskID(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard !bytes.isEmpty, bytes.count <= 64 else { return false }
        return bytes.allSatisfy { b in
            (b >= 97 && b <= 122) || (b >= 65 && b <= 90) || (b >= 48 && b <= 57) || b == 95 || b == 45 || b == 46
        }
    }

    /// Z85's 85 characters (ZeroMQ's text encoding of CURVE keys).
    static let z85Alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)

    /// True for the text form of a CURVE key: 40 Z85 characters (32 bytes).
    public static func isCurveKey(_ key: String) -> Bool {
        let bytes = Array(key.utf8)
        return bytes.count == 40 && bytes.allSatisfy(z85Alphabet.contains)
    }

    /// Hermes normalises assignees by trimming and lowercasing; the bridge does the same.
    public static func canonicalAssignee(_ raw: String?) -> String? {
        guard let raw else { return nil }
        let trimmed = raw.trimmingSpaces().lowercased()
        return trimmed.isEmpty ? nil : trimmed
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
