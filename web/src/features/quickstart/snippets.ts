/** Copy-ready calls for the tenant's own domain; the key is named by its prefix (the secret is never shown again). */
export type SnippetKind = 'chat' | 'stream' | 'embeddings';
export type SnippetLanguage = 'curl' | 'python' | 'node';

export interface SnippetInput {
  baseUrl: string;
  keyHint: string;
  chatModel: string;
  embeddingModel: string;
}

export function snippet(language: SnippetLanguage, kind: SnippetKind, { baseUrl, keyHint, chatModel, embeddingModel }: SnippetInput): string {
  const env = 'AIGW_API_KEY';
  const model = kind === 'embeddings' ? embeddingModel : chatModel;
  if (language === 'curl') {
    if (kind === 'embeddings') {
      return `export ${env}="${keyHint}"   # your full key

curl ${baseUrl}/embeddings \\
  -H "Authorization: Bearer $${env}" \\
  -H "Content-Type: application/json" \\
  -d '{"model": "${model}", "input": "The food was delicious"}'`;
    }
    return `export ${env}="${keyHint}"   # your full key

curl ${kind === 'stream' ? '-N ' : ''}${baseUrl}/chat/completions \\
  -H "Authorization: Bearer $${env}" \\
  -H "Content-Type: application/json" \\
  -d '{"model": "${model}", ${kind === 'stream' ? '"stream": true, ' : ''}"messages": [{"role": "user", "content": "Hello!"}]}'`;
  }
  if (language === 'python') {
    const head = `# pip install openai
import os
from openai import OpenAI

client = OpenAI(base_url="${baseUrl}", api_key=os.environ["${env}"])  # ${keyHint}
`;
    if (kind === 'embeddings') return `${head}
result = client.embeddings.create(model="${model}", input="The food was delicious")
print(result.data[0].embedding[:5])`;
    if (kind === 'stream') return `${head}
stream = client.chat.completions.create(
    model="${model}",
    messages=[{"role": "user", "content": "Hello!"}],
    stream=True,
)
for chunk in stream:
    print(chunk.choices[0].delta.content or "", end="")`;
    return `${head}
reply = client.chat.completions.create(
    model="${model}",
    messages=[{"role": "user", "content": "Hello!"}],
)
print(reply.choices[0].message.content)`;
  }
  const head = `// npm install openai
import OpenAI from 'openai';

const client = new OpenAI({ baseURL: '${baseUrl}', apiKey: process.env.${env} }); // ${keyHint}
`;
  if (kind === 'embeddings') return `${head}
const result = await client.embeddings.create({ model: '${model}', input: 'The food was delicious' });
console.log(result.data[0].embedding.slice(0, 5));`;
  if (kind === 'stream') return `${head}
const stream = await client.chat.completions.create({
  model: '${model}',
  messages: [{ role: 'user', content: 'Hello!' }],
  stream: true,
});
for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? '');`;
  return `${head}
const reply = await client.chat.completions.create({
  model: '${model}',
  messages: [{ role: 'user', content: 'Hello!' }],
});
console.log(reply.choices[0].message.content);`;
}
