namespace Alora.Training;

/// <summary>SplitMix64: a tiny, fully specified PRNG, so data orders are the same on every runtime.</summary>
public sealed class SplitMix64(ulong seed)
{
    ulong _state = seed;

    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
