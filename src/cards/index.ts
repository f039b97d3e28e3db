export { cardProblems } from './validate-card.js';
export { renderCard, asText, TemplateError } from './render.js';
export { KNOWLEDGE_EXTENSION, type Card, type CdsResponse, type Suggestion, type Action, type Link } from './types.js';
