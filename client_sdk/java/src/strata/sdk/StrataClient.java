package strata.sdk;

/**
 * The Strata SDK for Java/Android: a thin binding over the C API
 * (strata/client/c_api.h) in libstrata_jni. Every method that can fail
 * throws StrataException with the SDK's status code and message. Not
 * thread-confined: the SDK serialises its own calls.
 *
 * <p>The native library is loaded from the path in the system property
 * "strata.jni.library" if set, else by name ("strata_jni") from
 * java.library.path.
 */
public final class StrataClient implements AutoCloseable {
  /** The network the device is on (STRATA_NETWORK_* numbers). */
  public enum Network {
    UNKNOWN(0),
    UNMETERED(1),
    METERED(2),
    OFFLINE(3);

    final int code;

    Network(int code) {
      this.code = code;
    }
  }

  /** What Create needs; as strata_client_options. */
  public static final class Options {
    /**
     * stratad's gRPC address. The binding links no gRPC (the add-on
     * strata::client_grpc is not in libstrata_jni), so create() refuses it
     * with FAILED_PRECONDITION: use serverUrl and httpTransport.
     */
    public String serverAddress;
    public String appId;
    public String deviceId;
    public String appVersion;
    public String storageDir;
    /** The app's root.json (required unless the insecure test option). */
    public String pinnedRootJson;
    /** PEM of the CA to trust instead of the system's. */
    public String tlsCaPem;
    /** Tests only. */
    public boolean insecureSkipSignatureVerificationForTests;
    /** Tests only: plaintext gRPC to a loopback server (see serverAddress). */
    public boolean insecurePlaintextToLoopbackForTests;
    public Network network = Network.UNKNOWN;
    /** Daily download budget of checks and prefetches; 0: none. */
    public long dailyBudgetBytes;
    /** The Delivery API over HTTP: stratad's HTTP port as a base URL. */
    public String serverUrl;
    /** The app's HTTP stack for serverUrl (required with it). */
    public StrataHttpTransport httpTransport;
  }

  /** What one Check did. */
  public static final class CheckResult {
    public final long installed;
    public final long failed;

    CheckResult(long installed, long failed) {
      this.installed = installed;
      this.failed = failed;
    }
  }

  private static boolean loaded;

  static synchronized void load() {
    if (loaded) return;
    String path = System.getProperty("strata.jni.library");
    if (path != null && !path.isEmpty()) {
      System.load(path);
    } else {
      System.loadLibrary("strata_jni");
    }
    loaded = true;
  }

  private long handle;

  private StrataClient(long handle) {
    this.handle = handle;
  }

  public static StrataClient create(Options o) throws StrataException {
    load();
    return new StrataClient(
        nativeCreate(
            o.serverAddress,
            o.appId,
            o.deviceId,
            o.appVersion,
            o.storageDir,
            o.pinnedRootJson,
            o.tlsCaPem,
            o.insecureSkipSignatureVerificationForTests,
            o.insecurePlaintextToLoopbackForTests,
            o.network.code,
            o.dailyBudgetBytes,
            o.serverUrl,
            o.httpTransport));
  }

  /** Asks the server and installs updates (on-demand ones wait). */
  public CheckResult check() throws StrataException {
    long[] r = nativeCheck(handle());
    return new CheckResult(r[0], r[1]);
  }

  /** The active content's path (for an H5/HCF tree its directory). */
  public String openModule(String layer, String name) throws StrataException {
    return openModule(layer, name, null, null);
  }

  /**
   * As openModule; an on-demand module not on the device yet is downloaded
   * first, reporting to `progress` (may be null) and ending with CANCELLED
   * when `cancel` (may be null) is cancelled.
   */
  public String openModule(
      String layer, String name, ProgressListener progress, CancelToken cancel)
      throws StrataException {
    return nativeOpenModule(
        handle(), layer, name, progress, cancel == null ? 0 : cancel.handle);
  }

  public String moduleDir(String layer, String name) throws StrataException {
    return nativeModuleDir(handle(), layer, name);
  }

  /** The installed file serving `url`, or null: load it from the network. */
  public String resolveUrl(String url) throws StrataException {
    return nativeResolveUrl(handle(), url);
  }

  /** The active content of a CONFIG module, or null. */
  public String getConfig(String name) throws StrataException {
    return nativeGetConfig(handle(), name);
  }

  public void setNetwork(Network network) throws StrataException {
    nativeSetNetwork(handle(), network.code);
  }

  public void prefetch(String layer, String name) throws StrataException {
    nativePrefetch(handle(), layer, name);
  }

  /** Updates left for later: {pending, mandatory not active}. */
  public long[] pendingDownloads() throws StrataException {
    return nativePending(handle());
  }

  /** Bytes downloaded on `network`: {today, ever}. */
  public long[] traffic(Network network) throws StrataException {
    return nativeTraffic(handle(), network.code);
  }

  /** Launch guard; returns the number of modules rolled back. */
  public long beginLaunch() throws StrataException {
    return nativeBeginLaunch(handle());
  }

  public void markLaunchHealthy() throws StrataException {
    nativeMarkLaunchHealthy(handle());
  }

  /** Failure kinds for {@link #reportFailure} (docs/remedies.md). */
  public static final int FAILURE_CRASH = 1;
  public static final int FAILURE_APPLY = 2;
  public static final int FAILURE_LOAD = 3;
  public static final int FAILURE_HANG = 4;
  public static final int FAILURE_OTHER = 5;

  /**
   * Reports a crash or failure as a signature (queued durably, sent by the next check); returns
   * its id, 16 hex digits, the same on every device. `layer` and `module` may be null (no
   * module); INVALID_ARGUMENT for a signature out of bounds.
   */
  public String reportFailure(
      int kind, String exceptionType, String[] topFrames, String layer, String module)
      throws StrataException {
    return nativeReportFailure(
        handle(), kind, exceptionType, topFrames == null ? new String[0] : topFrames, layer,
        module);
  }

  /** The id of the remedy that disabled the module on this device, or null. */
  public String disabledBy(String layer, String module) throws StrataException {
    return nativeDisabledBy(handle(), layer, module);
  }

  /** The app came to the foreground; returns how many modules activated. */
  public long onResume() throws StrataException {
    return nativeOnResume(handle());
  }

  @Override
  public synchronized void close() {
    if (handle != 0) {
      nativeDestroy(handle);
      handle = 0;
    }
  }

  private synchronized long handle() throws StrataException {
    if (handle == 0) {
      throw new StrataException(StrataException.FAILED_PRECONDITION, "client is closed");
    }
    return handle;
  }

  private static native long nativeCreate(
      String server,
      String app,
      String device,
      String appVersion,
      String storage,
      String root,
      String caPem,
      boolean insecureSkip,
      boolean plaintext,
      int network,
      long dailyBudget,
      String serverUrl,
      StrataHttpTransport transport)
      throws StrataException;

  private static native void nativeDestroy(long h);

  private static native long[] nativeCheck(long h) throws StrataException;

  private static native String nativeOpenModule(
      long h, String layer, String name, ProgressListener progress, long cancel)
      throws StrataException;

  private static native String nativeModuleDir(long h, String layer, String name)
      throws StrataException;

  private static native String nativeResolveUrl(long h, String url) throws StrataException;

  private static native String nativeGetConfig(long h, String name) throws StrataException;

  private static native void nativeSetNetwork(long h, int network) throws StrataException;

  private static native void nativePrefetch(long h, String layer, String name)
      throws StrataException;

  private static native long[] nativePending(long h) throws StrataException;

  private static native long[] nativeTraffic(long h, int network) throws StrataException;

  private static native long nativeBeginLaunch(long h) throws StrataException;

  private static native void nativeMarkLaunchHealthy(long h) throws StrataException;

  private static native long nativeOnResume(long h) throws StrataException;

  private static native String nativeReportFailure(
      long h, int kind, String exceptionType, String[] frames, String layer, String module)
      throws StrataException;

  private static native String nativeDisabledBy(long h, String layer, String module)
      throws StrataException;

  static native long nativeCancelNew();

  static native void nativeCancel(long c);

  static native void nativeCancelFree(long c);
}
