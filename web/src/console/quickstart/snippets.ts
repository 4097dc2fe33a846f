/** Ready-to-paste calls against this very server (the base URL comes from the overview). */
export interface SnippetInput {
  baseUrl: string;
  key: string;
  model: string;
}

export function curlSnippet({ baseUrl, key, model }: SnippetInput): string {
  return `curl ${baseUrl}/chat/completions \\
  -H "Authorization: Bearer ${key}" \\
  -H "Content-Type: application/json" \\
  -d '{
    "model": "${model}",
    "messages": [{"role": "user", "content": "Hello!"}]
  }'`;
}

export function pythonSnippet({ baseUrl, key, model }: SnippetInput): string {
  return `# pip install openai
from openai import OpenAI

client = OpenAI(base_url="${baseUrl}", api_key="${key}")

stream = client.chat.completions.create(
    model="${model}",
    messages=[{"role": "user", "content": "Hello!"}],
    stream=True,
)
for chunk in stream:
    if chunk.choices:
        print(chunk.choices[0].delta.content or "", end="")`;
}

export function nodeSnippet({ baseUrl, key, model }: SnippetInput): string {
  return `// npm install openai
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: '${baseUrl}', apiKey: '${key}' });

const completion = await client.chat.completions.create({
  model: '${model}',
  messages: [{ role: 'user', content: 'Hello!' }],
});
console.log(completion.choices[0].message.content);`;
}
