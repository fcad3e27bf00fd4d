/** The CRM's API calls, named as the workload's API documentation names them. */
export const ENDPOINTS = ['ADD_CUST', 'UPD_CUST', 'ADD_TRX'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

/** Result codes each endpoint gives per record. */
export const RESULT_CODES: Record<Endpoint, readonly number[]> = {
  ADD_CUST: [200, 8006, 3217],
  UPD_CUST: [200, 409, 3217],
  ADD_TRX: [200, 624],
};

/** One record's outcome inside a 200 answer. */
export interface RecordResult {
  index: number;
  customer_id?: string;
  trx_id?: string;
  code: number;
  error?: string;
  message: string;
}

/** A customer as the CRM stores it. */
export interface Customer {
  customer_id: string;
  name: string;
  email: string;
  country?: string;
  created_at: string;
  updated_at: string;
}

type Fields = Record<string, unknown>;

const TRX_FIELDS = ['trx_id', 'customer_id', 'amount', 'currency', 'ts'] as const;

function isFields(record: unknown): record is Fields {
  return typeof record === 'object' && record !== null && !Array.isArray(record);
}

function nonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== '';
}

/** Names the customer fields that are missing or malformed, in record order. */
function invalidCustomerFields(record: Fields): string[] {
  const invalid: string[] = [];
  if (!nonEmptyString(record.customer_id)) invalid.push('customer_id');
  if (!nonEmptyString(record.name)) invalid.push('name');
  if (!nonEmptyString(record.email) || !record.email.includes('@')) invalid.push('email');
  if (record.country !== undefined && record.country !== null && typeof record.country !== 'string') {
    invalid.push('country');
  }
  return invalid;
}

function isPresent(value: unknown): boolean {
  return value !== undefined && value !== null && value !== '';
}

/** In-memory customers and transactions, with an email index for conflicting-profile checks. */
export class CrmData {
  readonly customers = new Map<string, Customer>();
  /** Only ids are kept: nothing reads transactions back, and a benchmark stores millions. */
  readonly transactions = new Set<string>();
  /** Lower-cased email → the customer who owns it (the first to be stored with it). */
  readonly #emailOwners = new Map<string, string>();

  clear(): void {
    this.customers.clear();
    this.transactions.clear();
    this.#emailOwners.clear();
  }

  /** Applies a batch to one endpoint and returns each record's result, in order. */
  apply(endpoint: Endpoint, records: unknown[], now: string): RecordResult[] {
    const results: RecordResult[] = new Array(records.length);
    for (let index = 0; index < records.length; index++) {
      const record = records[index];
      if (endpoint === 'ADD_TRX') results[index] = this.#addTransaction(index, record);
      else if (endpoint === 'ADD_CUST') results[index] = this.#addCustomer(index, record, now);
      else results[index] = this.#updateCustomer(index, record, now);
    }
    return results;
  }

  #addCustomer(index: number, record: unknown, now: string): RecordResult {
    const invalid = isFields(record) ? invalidCustomerFields(record) : ['record'];
    const customerId =
      isFields(record) && nonEmptyString(record.customer_id) ? record.customer_id : undefined;
    if (invalid.length > 0) return invalidSource(index, customerId, invalid.join(', '));
    const fields = record as Fields;
    const id = customerId as string;
    if (this.customers.has(id)) {
      return { index, customer_id: id, code: 8006, message: 'customer already exists' };
    }
    const customer: Customer = {
      customer_id: id,
      name: fields.name as string,
      email: fields.email as string,
      created_at: now,
      updated_at: now,
    };
    if (typeof fields.country === 'string') customer.country = fields.country;
    this.customers.set(id, customer);
    const email = customer.email.toLowerCase();
    if (!this.#emailOwners.has(email)) this.#emailOwners.set(email, id);
    return { index, customer_id: id, code: 200, message: 'created' };
  }

  #updateCustomer(index: number, record: unknown, now: string): RecordResult {
    const invalid = isFields(record) ? invalidCustomerFields(record) : ['record'];
    const customerId =
      isFields(record) && nonEmptyString(record.customer_id) ? record.customer_id : undefined;
    if (invalid.length > 0) return invalidSource(index, customerId, invalid.join(', '));
    const fields = record as Fields;
    const id = customerId as string;
    const customer = this.customers.get(id);
    if (customer === undefined) return invalidSource(index, id, 'customer_id (no such customer)');
    const email = (fields.email as string).toLowerCase();
    const owner = this.#emailOwners.get(email);
    if (owner !== undefined && owner !== id) {
      return {
        index,
        customer_id: id,
        code: 409,
        error: 'CONFLICTING_PROFILE',
        message: `conflicting profile: email belongs to ${owner}`,
      };
    }
    const previousEmail = customer.email.toLowerCase();
    if (previousEmail !== email && this.#emailOwners.get(previousEmail) === id) {
      this.#emailOwners.delete(previousEmail);
    }
    this.#emailOwners.set(email, id);
    customer.name = fields.name as string;
    customer.email = fields.email as string;
    if (typeof fields.country === 'string') customer.country = fields.country;
    customer.updated_at = now;
    return { index, customer_id: id, code: 200, message: 'updated' };
  }

  #addTransaction(index: number, record: unknown): RecordResult {
    const fields = isFields(record) ? record : {};
    const missing = TRX_FIELDS.filter((name) => !isPresent(fields[name]));
    const trxId = isPresent(fields.trx_id) ? String(fields.trx_id) : undefined;
    if (missing.length > 0) {
      return {
        index,
        trx_id: trxId,
        code: 624,
        message: `incomplete body parameters: ${missing.join(', ')}`,
      };
    }
    const id = trxId as string;
    if (this.transactions.has(id)) return { index, trx_id: id, code: 200, message: 'already recorded' };
    this.transactions.add(id);
    return { index, trx_id: id, code: 200, message: 'stored' };
  }
}

function invalidSource(index: number, customerId: string | undefined, what: string): RecordResult {
  return { index, customer_id: customerId, code: 3217, message: `invalid source data: ${what}` };
}
