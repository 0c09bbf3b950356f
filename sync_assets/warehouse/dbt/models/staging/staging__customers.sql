SELECT
  customer_id,
  {{ j('entityid') }} AS entity_id,
  {{ j('externalid') }} AS external_id,
  {{ j('email') }} AS email,
  {{ j('firstname') }} AS first_name,
  {{ j('lastname') }} AS last_name,
  {{ j('companyname') }} AS company_name,
  {{ flag('isperson') }} AS is_person,
  {{ flag('isinactive') }} AS is_inactive,
  {{ netsuite_ts('datecreated') }} AS created_at,
  source_updated_at AS updated_at,
  _loaded_at
FROM ({{ latest(source('raw', 'netsuite_customers'), 'customer_id') }})
