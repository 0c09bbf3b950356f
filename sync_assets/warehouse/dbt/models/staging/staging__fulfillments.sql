SELECT
  fulfillment_id,
  {{ j('tranid') }} AS document_number,
  {{ j('createdfrom') }} AS sales_order_id,
  {{ j('shopifyorder') }} AS order_id,
  {{ j('status') }} AS status,
  array_to_string(CAST(json_extract(payload, '$.trackingnumbers') AS VARCHAR[]), ',') AS tracking_numbers,
  (SELECT sum(TRY_CAST(json_extract_string(i, '$.quantity') AS BIGINT))::BIGINT
     FROM unnest(CAST(json_extract(payload, '$.item.items') AS JSON[])) AS t(i)) AS units,
  source_updated_at AS updated_at,
  _loaded_at
FROM ({{ latest(source('raw', 'netsuite_fulfillments'), 'fulfillment_id') }})
