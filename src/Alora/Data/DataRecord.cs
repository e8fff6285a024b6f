using System.Globalization;
using System.Text.Json;

namespace Alora.Data;

/// <summary>
/// One object of a data file (a JSONL line, a JSON array item or a Parquet row) with the place it came from,
/// so that every reader reports errors the same way: "{file} line 17: field 'sol2' is missing".
/// Parquet rows are converted to JSON once, which keeps a single set of field accessors for all formats.
/// </summary>
internal sealed class DataRecord
{
    public DataRecord(string source, string location, JsonElement element)
    {
        Source = source;
        Location = location;
        Element = element;
    }

    /// <summary>The file as the user named it.</summary>
    public string Source { get; }

    /// <summary>"line 17" (JSONL, 1-based), "item 3" (JSON array, 1-based) or "row 5" (Parquet, 1-based).</summary>
    public string Location { get; }

    public JsonElement Element { get; }

    public AloraException Error(string message) => new($"{Source} {Location}: {message}");

    /// <summary>True when the field is present and not null.</summary>
    public bool Has(string field) => Element.TryGetProperty(field, out var value) && value.ValueKind != JsonValueKind.Null;

    public JsonElement Get(string field)
    {
        if (!Element.TryGetProperty(field, out var value))
            throw Error($"field '{field}' is missing");
        if (value.ValueKind == JsonValueKind.Null)
            throw Error($"field '{field}' is null");
        return value;
    }

    public string String(string field)
    {
        var value = Get(field);
        return value.ValueKind == JsonValueKind.String
            ? Text(value, $"field '{field}'")
            : throw Error($"field '{field}' must be a string, got {Describe(value)}");
    }

    /// <summary>
    /// A JSON string's text. An escape such as "\ud800" (an unpaired surrogate) parses but is no Unicode text:
    /// it has no UTF-8 bytes to tokenize or count, and .NET throws on reading it, so it is an input error here.
    /// </summary>
    public string Text(JsonElement value, string what)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException ex)
        {
            throw new AloraException(
                $"{Source} {Location}: {what} holds an escape that is not valid Unicode (an unpaired surrogate such as \\ud800)",
                ex
            );
        }
    }

    /// <summary>A property's name, with the same check as <see cref="Text"/>.</summary>
    public string Name(JsonProperty property)
    {
        try
        {
            return property.Name;
        }
        catch (InvalidOperationException ex)
        {
            throw new AloraException(
                $"{Source} {Location}: a field name holds an escape that is not valid Unicode (an unpaired surrogate such as \\ud800)",
                ex
            );
        }
    }

    /// <summary>The string, or null when the field is absent or null.</summary>
    public string? OptionalString(string field) => Has(field) ? String(field) : null;

    public int Int(string field)
    {
        var value = Get(field);
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var i)
            ? i
            : throw Error($"field '{field}' must be an integer, got {Describe(value)}");
    }

    /// <summary>An id as text: datasets store ids as strings or numbers.</summary>
    public string? OptionalId(string field = "id")
    {
        if (!Has(field))
            return null;
        var value = Get(field);
        return value.ValueKind == JsonValueKind.String ? Text(value, $"field '{field}'") : value.GetRawText();
    }

    public IReadOnlyList<string> StringArray(string field)
    {
        var value = Get(field);
        if (value.ValueKind != JsonValueKind.Array)
            throw Error($"field '{field}' must be an array of strings, got {Describe(value)}");
        var result = new List<string>(value.GetArrayLength());
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
                throw Error($"field '{field}' element {result.Count} must be a string, got {Describe(item)}");
            result.Add(Text(item, $"field '{field}' element {result.Count}"));
        }
        return result;
    }

    public int[] IntArray(string field)
    {
        var value = Get(field);
        if (value.ValueKind != JsonValueKind.Array)
            throw Error($"field '{field}' must be an array of integers, got {Describe(value)}");
        var result = new int[value.GetArrayLength()];
        var i = 0;
        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt32(out var id) || id < 0)
                throw Error($"field '{field}' element {i} must be a non-negative integer, got {Describe(item)}");
            result[i++] = id;
        }
        return result;
    }

    /// <summary>A short description of a JSON value for error messages: its kind, and the value when it is small.</summary>
    public static string Describe(JsonElement value)
    {
        var kind = value.ValueKind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            _ => "null",
        };
        if (value.ValueKind is JsonValueKind.Object or JsonValueKind.Array or JsonValueKind.Null)
            return kind;
        var raw = value.GetRawText();
        return raw.Length <= 40 ? string.Create(CultureInfo.InvariantCulture, $"{kind} ({raw})") : kind;
    }
}
