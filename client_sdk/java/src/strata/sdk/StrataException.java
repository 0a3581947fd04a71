package strata.sdk;

/** A failed SDK call: the absl::StatusCode number and the SDK's message. */
public final class StrataException extends Exception {
  /** absl::StatusCode numbers the caller may act on. */
  public static final int CANCELLED = 1;
  public static final int INVALID_ARGUMENT = 3;
  public static final int NOT_FOUND = 5;
  public static final int FAILED_PRECONDITION = 9;
  public static final int UNAVAILABLE = 14;

  private final int code;

  public StrataException(int code, String message) {
    super(message);
    this.code = code;
  }

  public int code() {
    return code;
  }
}
