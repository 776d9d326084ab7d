declare module 'fs-native-extensions' {
  interface LockOptions {
    shared?: boolean;
  }
  interface FsNativeExtensions {
    tryLock(fd: number, opts?: LockOptions): boolean;
    waitForLock(fd: number, opts?: LockOptions): Promise<void>;
    unlock(fd: number): void;
    /** Punches a hole (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE). */
    trim(fd: number, offset: number, length: number): Promise<void>;
    trimSync(fd: number, offset: number, length: number): void;
  }
  const fsx: FsNativeExtensions;
  export default fsx;
}
