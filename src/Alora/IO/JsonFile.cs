using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Alora.IO;

/// <summary>JSON files of the HuggingFace formats, read strictly.</summary>
public static class JsonFile
{
    /// <summary>
    /// Reads a JSON object file (config.json, tokenizer.json, an index...): strict UTF-8 (a byte order mark is
    /// allowed), comments and trailing commas tolerated as transformers' own files sometimes have them, but a key
    /// given twice in one object is an error, since which of the two values is meant cannot be known.
    /// </summary>
    public static JsonObject Read(string path)
    {
        if (!File.Exists(path))
            throw new AloraException($"{path}: file not found");
        var bytes = File.ReadAllBytes(path);
        var bom = Utf8Text.BomLength(path, bytes);
        var json = bytes.AsSpan(bom);
        if (Utf8Text.FirstInvalid(json) is var invalid and >= 0)
            throw Utf8Text.InvalidAt(path, bytes, bom + invalid);
        var options = new JsonDocumentOptions
        {
            CommentHandling = JsonCommentHandling.Skip,
            AllowTrailingCommas = true,
            AllowDuplicateProperties = false,
        };
        try
        {
            var node = JsonNode.Parse(json, documentOptions: options) as JsonObject ?? throw new AloraException($"{path}: not a JSON object");
            CheckEscapes(path, json, options, bom);
            return node;
        }
        catch (JsonException e)
        {
            throw new AloraException($"{path}: not valid JSON ({FirstSentence(e.Message)})", e);
        }
    }

    /// <summary>
    /// An escape such as "\ud800" (an unpaired surrogate) parses but has no UTF-8 form, and reading it later throws;
    /// it is an error here, once, with the place. Only escaped strings can hold one, since the bytes are valid UTF-8.
    /// </summary>
    static void CheckEscapes(string path, ReadOnlySpan<byte> json, JsonDocumentOptions options, int bom)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = options.CommentHandling, AllowTrailingCommas = true });
        while (reader.Read())
        {
            if (reader.TokenType is not (JsonTokenType.String or JsonTokenType.PropertyName) || !reader.ValueIsEscaped)
                continue;
            try
            {
                _ = reader.GetString();
            }
            catch (InvalidOperationException e)
            {
                throw new AloraException(
                    string.Create(
                        CultureInfo.InvariantCulture,
                        $"{path}: the string at byte offset {bom + reader.TokenStartIndex} holds an escape that is not valid Unicode (an unpaired surrogate such as \\ud800)"
                    ),
                    e
                );
            }
        }
    }

    static string FirstSentence(string s)
    {
        var i = s.IndexOf(". ", StringComparison.Ordinal);
        return i > 0 ? s[..i] : s;
    }
}
