using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Alora;

/// <summary>Other spellings a named enum value is read from (bf16 for bfloat16); it is always written by its name.</summary>
[AttributeUsage(AttributeTargets.Field)]
public sealed class AlsoSpelledAttribute(params string[] spellings) : Attribute
{
    public IReadOnlyList<string> Spellings { get; } = spellings;
}

/// <summary>
/// The names of an option's values, as the command line, YAML, experiment configs and config.json spell them:
/// a member's <see cref="JsonStringEnumMemberNameAttribute"/> name (else its name in kebab-case), read case-insensitively,
/// with the member's <see cref="AlsoSpelledAttribute"/> spellings as well.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage(
    "Design",
    "CA1000",
    Justification = "EnumNames<Stage>.Name(s) names the type once, where it is read"
)]
public static class EnumNames<T>
    where T : struct, Enum
{
    static readonly (T Value, string Name, string[] Spellings)[] Members = typeof(T)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f =>
            (
                (T)f.GetValue(null)!,
                f.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name ?? JsonNamingPolicy.KebabCaseLower.ConvertName(f.Name),
                f.GetCustomAttribute<AlsoSpelledAttribute>()?.Spellings.ToArray() ?? []
            )
        )
        .ToArray();

    /// <summary>The names in declaration order.</summary>
    public static IReadOnlyList<string> Names { get; } = Members.Select(m => m.Name).ToArray();

    /// <summary>"a, b, c": for messages and help.</summary>
    public static string OneOf => string.Join(", ", Names);

    public static string Name(T value)
    {
        foreach (var m in Members)
            if (EqualityComparer<T>.Default.Equals(m.Value, value))
                return m.Name;
        throw new ArgumentOutOfRangeException(nameof(value), value, $"not a member of {typeof(T).Name}");
    }

    public static bool IsDefined(T value) => Members.Any(m => EqualityComparer<T>.Default.Equals(m.Value, value));

    public static bool TryParse(string? text, out T value)
    {
        var t = text?.Trim();
        foreach (var m in Members)
        {
            if (string.Equals(m.Name, t, StringComparison.OrdinalIgnoreCase) || m.Spellings.Contains(t, StringComparer.OrdinalIgnoreCase))
            {
                value = m.Value;
                return true;
            }
        }
        value = default;
        return false;
    }

    /// <summary>The value <paramref name="text"/> names; else an error naming <paramref name="what"/> (an option or a key) and the names allowed.</summary>
    public static T Parse(string? text, string what) =>
        TryParse(text, out var v) ? v : throw new AloraException($"{what} '{text}' is not one of {OneOf}");
}

/// <summary>Reads and writes an enum by <see cref="EnumNames{T}"/>; numbers are refused (1 is not a method).</summary>
public sealed class NamedEnumConverter<T> : JsonConverter<T>
    where T : struct, Enum
{
    public override T Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String)
            throw new JsonException($"expected one of {EnumNames<T>.OneOf}");
        var s = reader.GetString();
        return EnumNames<T>.TryParse(s, out var v) ? v : throw new JsonException($"'{s}' is not one of {EnumNames<T>.OneOf}");
    }

    public override void Write(Utf8JsonWriter writer, T value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStringValue(EnumNames<T>.Name(value));
    }
}
