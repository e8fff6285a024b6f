namespace Alora.Demo;

/// <summary>
/// xoshiro256** seeded through SplitMix64 (Blackman and Vigna). Used instead of System.Random because
/// System.Random's sequence is not specified across runtimes, and the demo data must be byte-identical
/// for a given seed everywhere.
/// </summary>
internal sealed class Xoshiro256
{
    private ulong _s0,
        _s1,
        _s2,
        _s3;

    /// <summary>Seeds from <paramref name="seed"/> and a stream name, so that each part of the data
    /// (world, pretrain, nu, ...) draws from its own stream and resizing one part leaves the others alone.</summary>
    public Xoshiro256(long seed, string stream = "")
    {
        ulong x = unchecked((ulong)seed);
        foreach (char c in stream)
        {
            x = unchecked((x ^ c) * 0x100000001B3UL); // FNV-style mix of the stream name into the seed
        }
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
    }

    private static ulong SplitMix64(ref ulong x)
    {
        unchecked
        {
            x += 0x9E3779B97F4A7C15UL;
            ulong z = x;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }

    public ulong NextUInt64()
    {
        unchecked
        {
            ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
            ulong t = _s1 << 17;
            _s2 ^= _s0;
            _s3 ^= _s1;
            _s1 ^= _s2;
            _s0 ^= _s3;
            _s2 ^= t;
            _s3 = ulong.RotateLeft(_s3, 45);
            return result;
        }
    }

    /// <summary>Uniform integer in [0, n) without modulo bias (rejection on the top of the range).</summary>
    public int Next(int n)
    {
        if (n <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(n), n, "must be positive");
        }
        ulong bound = (ulong)n;
        ulong limit = ulong.MaxValue - (ulong.MaxValue % bound);
        ulong r;
        do
        {
            r = NextUInt64();
        } while (r >= limit);
        return (int)(r % bound);
    }

    /// <summary>Uniform integer in [lo, hi] inclusive.</summary>
    public int Between(int lo, int hi) => lo + Next(hi - lo + 1);

    /// <summary>Uniform double in [0, 1) from the top 53 bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    public T Pick<T>(IReadOnlyList<T> items) => items[Next(items.Count)];

    /// <summary>Fisher-Yates shuffle in place.</summary>
    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary><paramref name="k"/> distinct items from <paramref name="items"/>, none equal to <paramref name="exclude"/>, in random order.</summary>
    public List<T> Distinct<T>(IReadOnlyList<T> items, int k, T exclude)
    {
        var pool = items.Where(x => !EqualityComparer<T>.Default.Equals(x, exclude)).ToList();
        if (pool.Count < k)
        {
            throw new InvalidOperationException($"need {k} distinct values besides the answer, have {pool.Count}");
        }
        Shuffle(pool);
        return pool.GetRange(0, k);
    }
}
