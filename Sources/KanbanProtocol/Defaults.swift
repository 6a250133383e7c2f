/// Default endpoints of a local coordinator (contract v1).
public enum Endpoints {
    public static let command = "tcp://127.0.0.1:5555"
    public static let events = "tcp://127.0.0.1:5556"
}
