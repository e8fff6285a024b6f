using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Runtime;

/// <summary>Device selection and one-time native initialisation of TorchSharp.</summary>
public static class TorchRuntime
{
    /// <summary>Parses "cpu", "cuda" or "cuda:N"; fails clearly when CUDA is asked for but absent.</summary>
    public static Device ParseDevice(string name)
    {
        var n = name.Trim().ToLowerInvariant();
        if (n == "cpu") return CPU;
        if (n.StartsWith("cuda", StringComparison.Ordinal))
        {
            if (!cuda.is_available())
                throw new AloraException($"device '{name}' was requested but CUDA is not available: build with -p:AloraTorchBackend=cuda on a machine with an NVIDIA driver");
            return new Device(n);
        }
        throw new AloraException($"unknown device '{name}': use cpu, cuda or cuda:N");
    }

    /// <summary>Makes runs repeatable on the CPU: seeds torch's generator.</summary>
    public static void Seed(long seed) => random.manual_seed(seed);
}
