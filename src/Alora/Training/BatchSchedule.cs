namespace Alora.Training;

/// <summary>
/// Which sequences each optimizer step trains on: a pure function of (seed, step), so a resumed run sees the same
/// batches as an uninterrupted one. Each step takes B - k domain sequences and k general ones (replay; k = 0 for
/// every method but replay). The domain sequences are cut from a seeded permutation of the domain data per epoch,
/// B - k at a time (the last step of an epoch takes what is left), so epochs count passes over the domain data.
/// The general sequences of step t are positions t*k .. t*k+k-1 of an endless stream of seeded permutations of the
/// general data, a new permutation each pass, from a seed of their own (<see cref="GeneralSeed"/>). With k = 0 the
/// batches are those of plain training: one permutation per epoch cut into batches of B.
/// </summary>
public sealed class BatchSchedule
{
    readonly int _domainCount,
        _generalCount;
    readonly long _seed;

    /// <summary>Sequences of the domain data; general index i is batch index DomainCount + i.</summary>
    public int DomainCount => _domainCount;

    /// <summary>Domain sequences per step (B - k; fewer at the end of an epoch when they do not divide the data).</summary>
    public int DomainPerStep { get; }

    /// <summary>General sequences per step (k).</summary>
    public int ReplayPerStep { get; }

    /// <summary>Steps per pass over the domain data: ceil(n_domain / (B - k)).</summary>
    public long StepsPerEpoch { get; }

    public BatchSchedule(int domainCount, int generalCount, int batchSize, int replayPerStep, long seed)
    {
        if (domainCount < 1)
            throw new AloraException("the training data is empty");
        if (replayPerStep < 0 || replayPerStep >= batchSize)
            throw new AloraException($"replay of {replayPerStep} general sequence(s) per step must leave domain sequences in a batch of {batchSize}");
        if (replayPerStep > 0 && generalCount < 1)
            throw new AloraException($"replay of {replayPerStep} general sequence(s) per step needs general data, and it is empty");
        _domainCount = domainCount;
        _generalCount = generalCount;
        _seed = seed;
        ReplayPerStep = replayPerStep;
        DomainPerStep = batchSize - replayPerStep;
        StepsPerEpoch = (domainCount + DomainPerStep - 1) / DomainPerStep;
    }

    /// <summary>k = round(rho * B), halves rounded away from zero (rho 0.25 of 10 is 3; of 20, 5).</summary>
    public static int ReplayCount(double fraction, int batchSize) => (int)Math.Round(fraction * batchSize, MidpointRounding.AwayFromZero);

    /// <summary>The seed of the general stream's permutations, derived from the run's so that it differs from the domain order's.</summary>
    public static long GeneralSeed(long seed) => unchecked((long)new SplitMix64((ulong)seed ^ 0x7265706C6179UL).Next());

    /// <summary>The step's sequences: indices into the domain data and indices into the general data.</summary>
    public (int[] Domain, int[] General) At(long step)
    {
        long epoch = step / StepsPerEpoch,
            inEpoch = step % StepsPerEpoch;
        var perm = Permutation(_domainCount, _seed, epoch);
        int start = (int)(inEpoch * DomainPerStep);
        var domain = perm[start..Math.Min(start + DomainPerStep, perm.Length)];
        var general = new int[ReplayPerStep];
        long generalSeed = GeneralSeed(_seed);
        int[]? pass = null;
        long passIndex = -1;
        for (int i = 0; i < ReplayPerStep; i++)
        {
            long position = step * ReplayPerStep + i;
            if (position / _generalCount != passIndex)
                pass = Permutation(_generalCount, generalSeed, passIndex = position / _generalCount);
            general[i] = pass![position % _generalCount];
        }
        return (domain, general);
    }

    /// <summary>The step's sequences as indices into the domain data followed by the general data (general index i is n_domain + i).</summary>
    public int[] Indices(long step)
    {
        var (domain, general) = At(step);
        return [.. domain, .. general.Select(i => _domainCount + i)];
    }

    /// <summary>A seeded permutation of 0..n-1 (Fisher-Yates over SplitMix64), one per (seed, epoch).</summary>
    public static int[] Permutation(int n, long seed, long epoch)
    {
        var perm = Enumerable.Range(0, n).ToArray();
        var rng = new SplitMix64(unchecked((ulong)seed * 0x9E3779B97F4A7C15UL + (ulong)epoch + 1));
        for (int i = n - 1; i > 0; i--)
        {
            int j = (int)(rng.Next() % (ulong)(i + 1));
            (perm[i], perm[j]) = (perm[j], perm[i]);
        }
        return perm;
    }
}
