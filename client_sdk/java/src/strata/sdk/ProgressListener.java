package strata.sdk;

/** Download progress of an OpenModule (on the calling thread). */
public interface ProgressListener {
  void onProgress(long receivedBytes, long contentBytes, boolean done);
}
