using System.Globalization;
using System.Text;

namespace TimeoutBudget;

/// <summary>
/// A small JSON reader that remembers where every value stood, so plan violations can point at a line and column
/// (the analyzer reports them in the JSON file itself). It exists because this file must also compile into the
/// analyzer, which cannot carry System.Text.Json into every host that loads it.
/// </summary>
internal static class PlanJson
{
    /// <summary>
    /// How deep JSON may nest at all, a guard for the recursive reader. A layer takes two levels (its object inside its
    /// parent's "children" array) and its retry one more, so every plan within <see cref="BudgetPlan.MaxNestedLayers"/>
    /// fits with room to spare, and deeper plans are told about layers rather than JSON levels until this guard is reached.
    /// </summary>
    public const int MaxDepth = 256;

    public static PlanJsonValue Parse(string text)
    {
        var reader = new Reader(text);
        reader.SkipWhitespace();
        var value = reader.ReadValue(0);
        reader.SkipWhitespace();
        if (!reader.AtEnd)
        {
            throw reader.Error("Unexpected text after the end of the plan");
        }

        return value;
    }

    private sealed class Reader
    {
        private readonly string _text;
        private int _position;
        private int _line = 1;
        private int _lineStart;

        public Reader(string text) => _text = text;

        public bool AtEnd => _position >= _text.Length;

        public BudgetPlanException Error(string message) => ErrorAt(message, _line, _position - _lineStart + 1, 1);

        public static BudgetPlanException ErrorAt(string message, int line, int column, int length) =>
            new($"{message} (line {line}, column {column}).", line, column, length);

        public void SkipWhitespace()
        {
            while (_position < _text.Length)
            {
                var c = _text[_position];
                if (c == '\n')
                {
                    _position++;
                    _line++;
                    _lineStart = _position;
                }
                else if (c == ' ' || c == '\t' || c == '\r')
                {
                    _position++;
                }
                else
                {
                    return;
                }
            }
        }

        public PlanJsonValue ReadValue(int depth)
        {
            if (depth > MaxDepth)
            {
                throw Error($"The plan's JSON nests deeper than {MaxDepth} levels (a plan has at most {BudgetPlan.MaxNestedLayers} layers)");
            }

            if (AtEnd)
            {
                throw Error("The plan ends where a value was expected");
            }

            var line = _line;
            var column = _position - _lineStart + 1;
            var start = _position;
            switch (_text[_position])
            {
                case '{':
                    return ReadObject(depth, line, column, start);
                case '[':
                    return ReadArray(depth, line, column, start);
                case '"':
                    var text = ReadString();
                    return new PlanJsonValue(PlanJsonKind.String, text, line, column, _position - start);
                case 't':
                    ExpectWord("true");
                    return new PlanJsonValue(PlanJsonKind.True, "true", line, column, 4);
                case 'f':
                    ExpectWord("false");
                    return new PlanJsonValue(PlanJsonKind.False, "false", line, column, 5);
                case 'n':
                    ExpectWord("null");
                    return new PlanJsonValue(PlanJsonKind.Null, "null", line, column, 4);
                default:
                    var c = _text[_position];
                    if (c == '-' || (c >= '0' && c <= '9'))
                    {
                        var number = ReadNumber();
                        return new PlanJsonValue(PlanJsonKind.Number, number, line, column, number.Length);
                    }

                    throw Error($"Unexpected character '{Printable(c)}' where a value was expected");
            }
        }

        private PlanJsonValue ReadObject(int depth, int line, int column, int start)
        {
            _position++;
            var properties = new List<PlanJsonProperty>();
            SkipWhitespace();
            if (!AtEnd && _text[_position] == '}')
            {
                _position++;
                return new PlanJsonValue(properties, line, column, _position - start);
            }

            while (true)
            {
                SkipWhitespace();
                if (AtEnd || _text[_position] != '"')
                {
                    throw Error("Expected a property name in double quotes");
                }

                var nameLine = _line;
                var nameColumn = _position - _lineStart + 1;
                var nameStart = _position;
                var name = ReadString();
                foreach (var existing in properties)
                {
                    if (existing.Name == name)
                    {
                        throw ErrorAt($"Duplicate property {DurationText.Quote(name)}: each key may appear once", nameLine, nameColumn, _position - nameStart);
                    }
                }

                SkipWhitespace();
                if (AtEnd || _text[_position] != ':')
                {
                    throw Error($"Expected ':' after the property name {DurationText.Quote(name)}");
                }

                _position++;
                SkipWhitespace();
                var value = ReadValue(depth + 1);
                properties.Add(new PlanJsonProperty(name, nameLine, nameColumn, value));
                SkipWhitespace();
                if (AtEnd)
                {
                    throw Error("The plan ends inside an object; expected ',' or '}'");
                }

                var c = _text[_position++];
                if (c == '}')
                {
                    return new PlanJsonValue(properties, line, column, _position - start);
                }

                if (c != ',')
                {
                    _position--;
                    throw Error($"Expected ',' or '}}' but found '{Printable(c)}'");
                }
            }
        }

        private PlanJsonValue ReadArray(int depth, int line, int column, int start)
        {
            _position++;
            var items = new List<PlanJsonValue>();
            SkipWhitespace();
            if (!AtEnd && _text[_position] == ']')
            {
                _position++;
                return new PlanJsonValue(items, line, column, _position - start);
            }

            while (true)
            {
                SkipWhitespace();
                items.Add(ReadValue(depth + 1));
                SkipWhitespace();
                if (AtEnd)
                {
                    throw Error("The plan ends inside an array; expected ',' or ']'");
                }

                var c = _text[_position++];
                if (c == ']')
                {
                    return new PlanJsonValue(items, line, column, _position - start);
                }

                if (c != ',')
                {
                    _position--;
                    throw Error($"Expected ',' or ']' but found '{Printable(c)}'");
                }
            }
        }

        private string ReadString()
        {
            _position++;
            var builder = new StringBuilder();
            while (true)
            {
                if (AtEnd)
                {
                    throw Error("The plan ends inside a string");
                }

                var c = _text[_position++];
                if (c == '"')
                {
                    return builder.ToString();
                }

                if (c < ' ')
                {
                    _position--;
                    throw Error("A string contains a raw control character or line break");
                }

                if (c != '\\')
                {
                    builder.Append(c);
                    continue;
                }

                if (AtEnd)
                {
                    throw Error("The plan ends inside an escape sequence");
                }

                var escaped = _text[_position++];
                switch (escaped)
                {
                    case '"': builder.Append('"'); break;
                    case '\\': builder.Append('\\'); break;
                    case '/': builder.Append('/'); break;
                    case 'b': builder.Append('\b'); break;
                    case 'f': builder.Append('\f'); break;
                    case 'n': builder.Append('\n'); break;
                    case 'r': builder.Append('\r'); break;
                    case 't': builder.Append('\t'); break;
                    case 'u':
                        if (_position + 4 > _text.Length ||
                            !int.TryParse(_text.Substring(_position, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code))
                        {
                            throw Error("Invalid \\u escape: expected four hexadecimal digits");
                        }

                        builder.Append((char)code);
                        _position += 4;
                        break;
                    default:
                        _position -= 2;
                        throw Error($"Invalid escape '\\{Printable(escaped)}'");
                }
            }
        }

        private string ReadNumber()
        {
            var start = _position;
            if (_text[_position] == '-')
            {
                _position++;
            }

            while (!AtEnd && IsNumberChar(_text[_position]))
            {
                _position++;
            }

            var number = _text.Substring(start, _position - start);
            if (number.Length > 32 || !double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            {
                _position = start;
                throw Error($"Malformed number {DurationText.Quote(number)}");
            }

            return number;
        }

        private void ExpectWord(string word)
        {
            if (string.CompareOrdinal(_text, _position, word, 0, word.Length) != 0)
            {
                throw Error($"Unexpected text; did you mean '{word}'? Durations are written as strings, e.g. \"30s\"");
            }

            _position += word.Length;
        }

        private static bool IsNumberChar(char c) => (c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';

        private static string Printable(char c) => char.IsControl(c) ? $"\\u{(int)c:x4}" : c.ToString();
    }
}

internal enum PlanJsonKind
{
    Object,
    Array,
    String,
    Number,
    True,
    False,
    Null,
}

internal sealed class PlanJsonProperty
{
    public PlanJsonProperty(string name, int line, int column, PlanJsonValue value)
    {
        Name = name;
        Line = line;
        Column = column;
        Value = value;
    }

    public string Name { get; }

    public int Line { get; }

    public int Column { get; }

    public PlanJsonValue Value { get; }
}

internal sealed class PlanJsonValue
{
    private static readonly List<PlanJsonProperty> NoProperties = new();
    private static readonly List<PlanJsonValue> NoItems = new();

    public PlanJsonValue(PlanJsonKind kind, string text, int line, int column, int length)
    {
        Kind = kind;
        Text = text;
        Line = line;
        Column = column;
        Length = length;
        Properties = NoProperties;
        Items = NoItems;
    }

    public PlanJsonValue(List<PlanJsonProperty> properties, int line, int column, int length)
        : this(PlanJsonKind.Object, string.Empty, line, column, length) => Properties = properties;

    public PlanJsonValue(List<PlanJsonValue> items, int line, int column, int length)
        : this(PlanJsonKind.Array, string.Empty, line, column, length) => Items = items;

    public PlanJsonKind Kind { get; }

    public string Text { get; }

    public int Line { get; }

    public int Column { get; }

    public int Length { get; }

    public IReadOnlyList<PlanJsonProperty> Properties { get; }

    public IReadOnlyList<PlanJsonValue> Items { get; }

    public string Describe() => Kind switch
    {
        PlanJsonKind.Object => "an object",
        PlanJsonKind.Array => "an array",
        PlanJsonKind.String => $"the string {DurationText.Quote(Text)}",
        PlanJsonKind.Number => $"the number {Text}",
        _ => Text,
    };
}
