using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Runtime;

/// <summary>Device selection and one-time native initialisation of TorchSharp.</summary>
public static partial class TorchRuntime
{
    static int _initialized;

    /// <summary>
    /// Once per process: keeps glibc from returning tensor buffers of up to 32 MB to the kernel
    /// (M_MMAP_THRESHOLD = 32 MB, M_TRIM_THRESHOLD = 1 GB). Each training step frees and re-allocates
    /// the same buffers; a fresh mapping costs a page fault per 4 KB, which measured here at about
    /// 1 s per 350 MB, more than the arithmetic. Elsewhere (not glibc) this does nothing.
    /// </summary>
    public static void Initialize()
    {
        if (Interlocked.Exchange(ref _initialized, 1) == 1)
            return;
        if (!OperatingSystem.IsLinux())
            return;
        try
        {
            const int M_TRIM_THRESHOLD = -1,
                M_MMAP_THRESHOLD = -3;
            _ = Mallopt(M_MMAP_THRESHOLD, 32 << 20);
            _ = Mallopt(M_TRIM_THRESHOLD, 1 << 30);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // musl or another libc: keep its defaults
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int Mallopt(int param, int value);

    /// <summary>Parses "cpu", "cuda" or "cuda:N"; fails clearly when CUDA is asked for but absent.</summary>
    public static Device ParseDevice(string name)
    {
        var n = name.Trim().ToLowerInvariant();
        if (n == "cpu")
            return CPU;
        if (n.StartsWith("cuda", StringComparison.Ordinal))
        {
            if (!cuda.is_available())
                throw new AloraException(
                    $"device '{name}' was requested but CUDA is not available: build with -p:AloraTorchBackend=cuda on a machine with an NVIDIA driver"
                );
            return new Device(n);
        }
        throw new AloraException($"unknown device '{name}': use cpu, cuda or cuda:N");
    }

    /// <summary>Makes runs repeatable on the CPU: seeds torch's generator.</summary>
    public static void Seed(long seed) => random.manual_seed(seed);
}
