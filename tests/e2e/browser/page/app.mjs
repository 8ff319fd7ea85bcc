// The page's code: Amplify JS v6 as an app would use it, bundled by esbuild (browser.e2e.mjs).
// The endpoint and key come from config.json beside the page.
import { Amplify } from 'aws-amplify';
import { generateClient } from 'aws-amplify/api';
import { Hub } from 'aws-amplify/utils';

const FIELDS = 'id firstName lastName age specialty createdAt updatedAt version';
const $ = (id) => document.getElementById(id);

function showError(error) {
  const errors = error?.errors ?? [error];
  $('error').textContent = errors.map((e) => `${e.errorType ?? e.name ?? 'Error'}: ${e.message}`).join('\n');
}

const config = await (await fetch('config.json')).json();
$('endpoint').textContent = config.endpoint;
Amplify.configure({
  API: {
    GraphQL: {
      endpoint: config.endpoint,
      region: 'us-east-1',
      defaultAuthMode: 'apiKey',
      apiKey: config.apiKey,
    },
  },
});
const client = generateClient();

Hub.listen('api', ({ payload }) => {
  if (payload.event === 'Subscription ack') {
    $('status').textContent = 'listening';
    $('status').dataset.state = 'listening';
  }
});

client.graphql({ query: `subscription { onCreateTrainer { ${FIELDS} } }` }).subscribe({
  next: ({ data }) => {
    const t = data.onCreateTrainer;
    const row = document.createElement('tr');
    row.dataset.id = t.id;
    for (const [cls, text] of [
      ['name', `${t.firstName} ${t.lastName}`],
      ['age', String(t.age)],
      ['specialty', t.specialty ?? ''],
      ['id', t.id],
    ]) {
      const cell = document.createElement('td');
      cell.className = cls;
      cell.textContent = text;
      row.append(cell);
    }
    $('events').append(row);
  },
  error: (error) => {
    $('status').textContent = 'failed';
    $('status').dataset.state = 'error';
    showError(error);
  },
});

$('add').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  $('error').textContent = '';
  try {
    await client.graphql({
      query: `mutation ($firstName: String!, $lastName: String!, $age: Int!, $specialty: Specialty) {
        createTrainer(firstName: $firstName, lastName: $lastName, age: $age, specialty: $specialty) { ${FIELDS} }
      }`,
      variables: {
        firstName: form.get('firstName'),
        lastName: form.get('lastName'),
        age: Number(form.get('age')),
        specialty: form.get('specialty'),
      },
    });
    event.target.reset();
  } catch (error) {
    showError(error);
  }
});
