package strata.sdk;

/** Cancels an OpenModule download from another thread. */
public final class CancelToken implements AutoCloseable {
  long handle;

  public CancelToken() {
    StrataClient.load();
    handle = StrataClient.nativeCancelNew();
  }

  public void cancel() {
    if (handle != 0) StrataClient.nativeCancel(handle);
  }

  @Override
  public void close() {
    if (handle != 0) {
      StrataClient.nativeCancelFree(handle);
      handle = 0;
    }
  }
}
