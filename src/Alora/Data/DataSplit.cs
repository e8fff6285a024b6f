using System.Globalization;

namespace Alora.Data;

/// <summary>A deterministic train/validation split.</summary>
public sealed record TrainValidationSplit<T>(IReadOnlyList<T> Train, IReadOnlyList<T> Validation);

/// <summary>
/// Seeded shuffling and splitting with a fully specified algorithm, so that a split can be reproduced in
/// any language and does not change across .NET versions (System.Random's sequence is not a specification):
/// SplitMix64 seeded with the seed sign-extended to 64 bits, then Fisher–Yates from the last index down,
/// swapping i with j = next() mod (i + 1).
/// </summary>
public static class DataSplit
{
    /// <summary>A shuffled copy of the items (the input is not changed).</summary>
    public static IReadOnlyList<T> Shuffle<T>(IReadOnlyList<T> items, int seed)
    {
        ArgumentNullException.ThrowIfNull(items);
        var result = items.ToArray();
        var rng = new SplitMix64(unchecked((ulong)(long)seed));
        for (var i = result.Length - 1; i > 0; i--)
        {
            var j = (int)(rng.Next() % (ulong)(i + 1)); // modulo bias is below n / 2^64: negligible, and simple to reproduce
            (result[i], result[j]) = (result[j], result[i]);
        }
        return result;
    }

    /// <summary>
    /// Shuffles with <paramref name="seed"/>, then takes the first round(n * fraction) items (half away from zero)
    /// as validation and the rest as training. A positive fraction keeps at least one item on each side.
    /// </summary>
    public static TrainValidationSplit<T> TrainValidation<T>(IReadOnlyList<T> items, double validationFraction, int seed)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (!(validationFraction >= 0 && validationFraction < 1))
            throw new AloraException(string.Create(CultureInfo.InvariantCulture, $"validation fraction must be in [0, 1), got {validationFraction}"));
        var n = items.Count;
        var nValidation = 0;
        if (validationFraction > 0)
        {
            if (n < 2)
                throw new AloraException(string.Create(CultureInfo.InvariantCulture, $"cannot split {n} item(s) into training and validation"));
            nValidation = Math.Clamp((int)Math.Round(n * validationFraction, MidpointRounding.AwayFromZero), 1, n - 1);
        }
        var shuffled = Shuffle(items, seed);
        return new TrainValidationSplit<T>(shuffled.Skip(nValidation).ToArray(), shuffled.Take(nValidation).ToArray());
    }
}

/// <summary>Steele, Lea and Flood's SplitMix64 (the generator Java's SplittableRandom and xoshiro seeding use).</summary>
internal struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    public ulong Next()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
