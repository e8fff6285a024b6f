using System.Text.Json;

namespace Alora.IO;

/// <summary>
/// Parses and checks a safetensors header with the reference implementation's rules. Stricter where the reference
/// only happens to fail: a name given twice is refused outright (the reference keeps the last and then fails on the
/// bytes the first one left unindexed), and so is a field given twice inside an entry or in "__metadata__".
/// </summary>
static class SafeTensorsHeader
{
    public static (Dictionary<string, SafeTensorEntry>, Dictionary<string, string>) Parse(string path, byte[] header, long dataLength)
    {
        int invalid = Utf8Text.FirstInvalid(header);
        if (invalid >= 0)
            throw new AloraException($"{path}: safetensors header is not valid UTF-8 (byte offset {8 + invalid} of the file)");
        if (header.Length == 0 || header[0] != (byte)'{')
            throw new AloraException(
                $"{path}: safetensors header does not start with '{{' (the format requires the JSON object to begin right after the 8-byte length)"
            );
        JsonDocument doc;
        try
        {
            // Default options: no comments, no trailing commas; trailing JSON whitespace (the padding) is accepted, NUL bytes are not.
            doc = JsonDocument.Parse(header);
        }
        catch (JsonException e)
        {
            throw new AloraException($"{path}: safetensors header is not valid JSON ({FirstSentence(e.Message)})", e);
        }
        using (doc)
        {
            var entries = new Dictionary<string, SafeTensorEntry>(StringComparer.Ordinal);
            Dictionary<string, string>? metadata = null;
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                string name = Name(path, p);
                if (entries.ContainsKey(name) || (name == "__metadata__" && metadata is not null))
                    throw new AloraException($"{path}: safetensors header names '{name}' twice");
                if (name == "__metadata__")
                    metadata = ReadMetadata(path, p.Value);
                else
                    entries[name] = ReadEntry(path, name, p.Value, dataLength);
            }
            CheckLayout(path, entries.Values, dataLength);
            return (entries, metadata ?? new Dictionary<string, string>(StringComparer.Ordinal));
        }
    }

    /// <summary>The reference reads "__metadata__" as an optional map of strings to strings (null = absent).</summary>
    static Dictionary<string, string> ReadMetadata(string path, JsonElement node)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        if (node.ValueKind == JsonValueKind.Null)
            return metadata;
        if (node.ValueKind != JsonValueKind.Object)
            throw new AloraException($"{path}: safetensors __metadata__ must be an object of strings, got {Kind(node)}");
        foreach (var p in node.EnumerateObject())
        {
            string key = Name(path, p);
            if (p.Value.ValueKind != JsonValueKind.String)
                throw new AloraException($"{path}: safetensors __metadata__ value of '{key}' must be a string, got {Kind(p.Value)}");
            if (!metadata.TryAdd(key, Str(path, p.Value)))
                throw new AloraException($"{path}: safetensors __metadata__ names '{key}' twice");
        }
        return metadata;
    }

    static SafeTensorEntry ReadEntry(string path, string name, JsonElement node, long dataLength)
    {
        AloraException Bad(string why) => new($"{path}: tensor '{name}': {why}");
        if (node.ValueKind != JsonValueKind.Object)
            throw Bad($"entry is {Kind(node)}, expected an object with dtype, shape and data_offsets");
        JsonElement? dtypeNode = null,
            shapeNode = null,
            offsetsNode = null;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in node.EnumerateObject())
        {
            string field = Name(path, p);
            if (!seen.Add(field))
                throw Bad($"field '{field}' is given twice");
            switch (field)
            {
                case "dtype":
                    dtypeNode = p.Value;
                    break;
                case "shape":
                    shapeNode = p.Value;
                    break;
                case "data_offsets":
                    offsetsNode = p.Value;
                    break;
                default:
                    break; // the reference ignores other fields
            }
        }
        if (dtypeNode is not { ValueKind: JsonValueKind.String } d)
            throw Bad(dtypeNode is null ? "no dtype" : $"dtype must be a string, got {Kind(dtypeNode.Value)}");
        string dtype = Str(path, d);
        int bits = SafeTensorsFile.BitsOf(dtype) ?? throw Bad($"unknown dtype '{dtype}'");
        long[] shape = Integers(shapeNode, "shape", Bad);
        long[] offsets = Integers(offsetsNode, "data_offsets", Bad);
        if (offsets.Length != 2)
            throw Bad($"data_offsets must hold two numbers [begin, end], got {offsets.Length}");
        long begin = offsets[0],
            end = offsets[1];
        if (end < begin)
            throw Bad($"data_offsets [{begin}, {end}] end before they begin");
        if (end > dataLength)
            throw Bad($"data_offsets [{begin}, {end}) run past the end of the data ({dataLength} bytes): the file is truncated");
        long bytes;
        try
        {
            long bitCount = checked(shape.Aggregate(1L, (a, b) => a * b) * bits);
            if (bitCount % 8 != 0)
                throw Bad($"{dtype} {SafeTensorsFile.Fmt(shape)} is not a whole number of bytes");
            bytes = bitCount / 8;
        }
        catch (OverflowException)
        {
            throw Bad($"{dtype} {SafeTensorsFile.Fmt(shape)} has more bits than a 64-bit count holds");
        }
        if (end - begin != bytes)
            throw Bad($"data_offsets [{begin}, {end}) span {end - begin} bytes but {dtype} {SafeTensorsFile.Fmt(shape)} needs {bytes}");
        return new SafeTensorEntry(name, dtype, shape, begin, end);
    }

    /// <summary>An array of non-negative integers (the reference reads them as unsigned sizes).</summary>
    static long[] Integers(JsonElement? node, string field, Func<string, AloraException> bad)
    {
        if (node is not { ValueKind: JsonValueKind.Array } array)
            throw bad(node is null ? $"no {field}" : $"{field} must be an array of integers, got {Kind(node.Value)}");
        var values = new long[array.GetArrayLength()];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long v) || v < 0)
                throw bad($"{field} element {i} must be a non-negative integer, got {Kind(item)}");
            values[i++] = v;
        }
        return values;
    }

    /// <summary>
    /// Every data byte belongs to exactly one tensor: sorted by offset, each range starts where the previous one
    /// ends, the first at 0 and the last at the end of the file. Zero-size tensors sit at a boundary.
    /// </summary>
    static void CheckLayout(string path, IEnumerable<SafeTensorEntry> entries, long dataLength)
    {
        const string Rule = "the tensors' data_offsets must cover the data exactly, with no gaps and no overlaps";
        long cursor = 0;
        SafeTensorEntry? prev = null;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End).ThenBy(e => e.Name, StringComparer.Ordinal))
        {
            if (e.Begin < cursor)
                throw new AloraException($"{path}: tensors '{prev!.Name}' {Range(prev)} and '{e.Name}' {Range(e)} overlap: {Rule}");
            if (e.Begin > cursor)
                throw new AloraException(
                    prev is null
                        ? $"{path}: data bytes [0, {e.Begin}) before tensor '{e.Name}' {Range(e)} belong to no tensor: {Rule}"
                        : $"{path}: data bytes [{cursor}, {e.Begin}) between tensors '{prev.Name}' {Range(prev)} and '{e.Name}' {Range(e)} belong to no tensor: {Rule}"
                );
            cursor = e.End;
            prev = e;
        }
        if (cursor < dataLength)
            throw new AloraException(
                prev is null
                    ? $"{path}: {dataLength} data bytes follow the header but it lists no tensors: {Rule}"
                    : $"{path}: data bytes [{cursor}, {dataLength}) after the last tensor '{prev.Name}' {Range(prev)} belong to no tensor: {Rule}"
            );
    }

    static string Range(SafeTensorEntry e) => $"[{e.Begin}, {e.End})";

    /// <summary>JSON escapes can spell an unpaired surrogate, which has no UTF-8 form (the reference rejects it too).</summary>
    static string Str(string path, JsonElement e)
    {
        try
        {
            return e.GetString()!;
        }
        catch (InvalidOperationException ex)
        {
            throw NotUnicode(path, ex);
        }
    }

    static string Name(string path, JsonProperty p)
    {
        try
        {
            return p.Name;
        }
        catch (InvalidOperationException ex)
        {
            throw NotUnicode(path, ex);
        }
    }

    static AloraException NotUnicode(string path, Exception inner) =>
        new($"{path}: safetensors header holds a string escape that is not valid Unicode (an unpaired surrogate such as \\ud800)", inner);

    static string Kind(JsonElement e) =>
        e.ValueKind switch
        {
            JsonValueKind.Object => "an object",
            JsonValueKind.Array => "an array",
            JsonValueKind.String => "a string",
            JsonValueKind.Number => $"a number ({Short(e.GetRawText())})",
            JsonValueKind.True or JsonValueKind.False => "a boolean",
            _ => "null",
        };

    static string Short(string s) => s.Length <= 40 ? s : s[..40] + "...";

    static string FirstSentence(string s)
    {
        var i = s.IndexOf(". ", StringComparison.Ordinal);
        return i > 0 ? s[..i] : s;
    }
}
